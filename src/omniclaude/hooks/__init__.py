"""Claude Code integration. The hook hot path (``fast.py``) imports only the standard library."""
