"""Search that scales, and the viewer's sessions.

* Text search (prompt and error message of an execution) through a trigram GIN index on the
  expression the read layer matches (``storage.queries.executions.SEARCH_TEXT``): an
  ``ILIKE '%…%'`` of 3+ characters is an index scan, not a scan of every execution.
* Session ids by prefix: a ``text_pattern_ops`` B-tree (``LIKE 'abc%'`` and equality both use
  it), replacing the plain one. Correlation ids by prefix need nothing: a prefix is a range
  of the unique uuid index.
* ``viewer_sessions``: the viewer trades a ``read`` key for a short-lived opaque session
  (HttpOnly cookie); only the session's SHA-256 is stored, and it dies with its key.

Revision ID: 0004_search_viewer_sessions
Revises: 0003_partitioned_events
Create Date: 2026-12-02
"""

from omniclaude.storage.migrations._script import run_script

revision = "0004_search_viewer_sessions"
down_revision = "0003_partitioned_events"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX agent_execution_logs_search_trgm ON agent_execution_logs
    USING gin ((coalesce(user_prompt, '') || ' ' || coalesce(error_message, '')) gin_trgm_ops);
DROP INDEX agent_execution_logs_session;
CREATE INDEX agent_execution_logs_session ON agent_execution_logs (session_id text_pattern_ops)
    WHERE session_id IS NOT NULL;

CREATE TABLE viewer_sessions (
    session_hash text PRIMARY KEY,
    key_id       uuid NOT NULL REFERENCES api_keys (key_id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX viewer_sessions_expires ON viewer_sessions (expires_at);
"""

DOWNGRADE = r"""
DROP TABLE viewer_sessions;
DROP INDEX agent_execution_logs_session;
CREATE INDEX agent_execution_logs_session ON agent_execution_logs (session_id)
    WHERE session_id IS NOT NULL;
DROP INDEX agent_execution_logs_search_trgm;
"""


def upgrade() -> None:
    """Add the search indexes and the viewer's sessions."""
    run_script(UPGRADE)


def downgrade() -> None:
    """Back to 0002 (the pg_trgm extension stays: other objects may use it)."""
    run_script(DOWNGRADE)
