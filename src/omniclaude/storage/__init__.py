"""PostgreSQL: connection set-up, idempotent batch writers, trace queries and migrations."""
