"""Claude Code integration. The hook hot path (``fast.py``) imports only the standard library.

Modules: ``fast`` (the hook command), ``spool`` (records, rotation), ``payloads``, ``mapping``
(+ ``pairing``, ``sessions``, ``shaping``), ``emitter`` and ``runner`` (spool → Kafka),
``install`` (settings.json), ``status``, ``transcript`` (replay). Nothing is imported here:
this package is on the hook's path.
"""

__all__: list[str] = []
