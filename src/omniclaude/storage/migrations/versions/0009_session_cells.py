"""Distinct session counts over any window from a few hundred rows: ``rollup_llm_session_cells``.

0006's ``rollup_llm_sessions_day`` holds one row per UTC day, dimension, value and session
(a 24-bit mask of its hours with a call). Counting a window's distinct sessions from it meant
deduplicating every row of the window: 400k rows for a busy team's month, half a second.

A session is counted once, at its *first row in the window*. Whether a row is that depends
only on the row's own hours (on the window's first and last day) and on the session's
previous day with a call (``prev_day``) and that day's last hour (``prev_hour``): a row of
day ``D`` inside the window is the session's first there unless its previous day is in the
window too, and that is decided by ``prev_day`` against the window's first day ``F`` and, when
``prev_day = F``, by ``prev_hour`` against the window's first hour. So the rows are counted
ahead in *cells*, per day, dimension and value:

* ``f``: by the row's last hour (``hour``): on the window's first day a row counts when
  its last hour is in the window;
* ``m``: by ``prev_day`` and ``prev_hour``: on a day strictly inside the window;
* ``l``: by its first hour (``hour``), ``prev_day`` and ``prev_hour``: on the window's last day.

A window's count is the sum of a few cells of its first day, of its middle days, and of its
last day (a window inside one UTC day reads that day's masks). ``prev_day`` is ``-infinity``
for a session's first day, ``prev_hour`` then -1.

Kept in the writing transaction by the LLM calls' statement trigger (its function replaced:
0005's and 0006's statements, with the session-mask upsert now also moving the touched
sessions' cells: the cells of their rows before the statement are taken out, those after it
put in, all in one statement over one snapshot). A session's rows change under a transaction
advisory lock on it (concurrent writers of one session take turns; locks in hash order). The
stored masks are counted once, here (a progress bar).

Revision ID: 0009_session_cells
Revises: 0008_metric_points
Create Date: 2026-12-02
"""

from __future__ import annotations

import importlib
from typing import Final

from omniclaude.storage.migrations._script import fetchval, run_script
from omniclaude.storage.migrations.progress import task

revision = "0009_session_cells"
down_revision = "0008_metric_points"
branch_labels = None
depends_on = None

_R6 = importlib.import_module("omniclaude.storage.migrations.versions.0006_llm_rollups")

TABLES = """
CREATE TABLE rollup_llm_session_cells (
    dimension  text NOT NULL,
    kind       text NOT NULL,
    bucket     timestamptz NOT NULL,
    value      text NOT NULL,
    hour       smallint NOT NULL,
    prev_day   timestamptz NOT NULL,
    prev_hour  smallint NOT NULL,
    sessions   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, kind, bucket, value, hour, prev_day, prev_hour)
);
CREATE INDEX rollup_llm_sessions_day_session
    ON rollup_llm_sessions_day (dimension, value, session_id, bucket);
"""

_POWERS = "ARRAY[" + ", ".join(str(1 << h) for h in range(24)) + "]"
LAST_HOUR = f"(width_bucket({{mask}}, {_POWERS}) - 1)"
"""The highest hour set in a 24-bit mask (``width_bucket`` counts the powers of two at most
the mask: exact integer arithmetic)."""
FIRST_HOUR = LAST_HOUR.format(mask="({mask} & -{mask})")
"""The lowest hour set in a mask (its lowest bit alone)."""

_NAMES = "dimension, kind, bucket, value, hour, prev_day, prev_hour"


def cells_select(rows: str, sign: str = "") -> str:
    """The cells of ``rows`` (a relation of session-mask rows: bucket, dimension, value,
    session_id, hours, holding every row of each session it names), each row counted
    ``sign``1 time."""
    last = LAST_HOUR.format(mask="r.hours")
    first = FIRST_HOUR.format(mask="r.hours")
    prev_last = LAST_HOUR.format(mask="r.prev_hours")
    return f"""
    SELECT r.dimension, c.kind, r.bucket, r.value, c.hour, c.prev_day, c.prev_hour,
           {sign}count(*) AS sessions
      FROM (SELECT bucket, dimension, value, hours,
                   lag(bucket) OVER w AS prev_bucket, lag(hours) OVER w AS prev_hours
              FROM {rows}
            WINDOW w AS (PARTITION BY dimension, value, session_id ORDER BY bucket)) AS r
     CROSS JOIN LATERAL (VALUES
           ('f', {last}::smallint, '-infinity'::timestamptz, -1::smallint),
           ('l', {first}::smallint, coalesce(r.prev_bucket, '-infinity'),
            coalesce({prev_last}, -1)::smallint),
           ('m', -1::smallint, coalesce(r.prev_bucket, '-infinity'),
            coalesce({prev_last}, -1)::smallint)) AS c(kind, hour, prev_day, prev_hour)
     GROUP BY 1, 2, 3, 4, 5, 6, 7"""


_CELLS_UPSERT = f"""
    ON CONFLICT ({_NAMES}) DO UPDATE SET sessions = r.sessions + EXCLUDED.sessions"""
_MASK_NAMES = "bucket, dimension, value, session_id, hours"

LOCK_CLASS: Final = 0x5E55
"""The advisory lock class of a session's rollup rows (the key: ``hashtext(session_id)``)."""

SESSIONS_MOVE = f"""
    PERFORM pg_advisory_xact_lock({LOCK_CLASS}, k)
       FROM (SELECT DISTINCT hashtext(session_id) AS k FROM new_rows
              WHERE session_id <> '' ORDER BY 1) AS s;
    WITH masks AS ({_R6.SESSIONS_SELECT.format(rows="new_rows")}
    ), changed AS (
        INSERT INTO rollup_llm_sessions_day AS r ({_MASK_NAMES})
        SELECT {_MASK_NAMES} FROM masks ORDER BY 1, 2, 3, 4{_R6._SESSIONS_UPSERT}
        RETURNING r.dimension, r.value, r.session_id
    ), touched AS (
        SELECT DISTINCT dimension, value, session_id FROM changed
    ), before AS (
        SELECT d.bucket, d.dimension, d.value, d.session_id, d.hours
          FROM rollup_llm_sessions_day d JOIN touched USING (dimension, value, session_id)
    ), after AS (
        SELECT bucket, dimension, value, session_id, bit_or(hours) AS hours
          FROM (SELECT * FROM before UNION ALL
                SELECT {_MASK_NAMES} FROM masks JOIN touched USING (dimension, value, session_id)
               ) AS u
         GROUP BY 1, 2, 3, 4
    ), moves AS (
        SELECT {_NAMES}, sum(sessions) AS sessions FROM (
            {cells_select("before", "-")}
            UNION ALL
            {cells_select("after")}
        ) AS d GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(sessions) <> 0
    )
    INSERT INTO rollup_llm_session_cells AS r ({_NAMES}, sessions)
    SELECT * FROM moves ORDER BY 1, 2, 3, 4, 5, 6, 7{_CELLS_UPSERT};"""
"""The session masks' upsert (0006's) and, in the same statement (one snapshot: ``before``
is the masks as they were), the cells of the sessions whose masks it changed (its
``RETURNING``: a call in an hour already counted changes none) moved from before to after."""

_SESSIONS_INSERT_0006 = (
    "\n    INSERT INTO rollup_llm_sessions_day AS r (bucket, dimension, value, session_id,"
    f" hours){_R6.SESSIONS_SELECT.format(rows='new_rows')}{_R6._SESSIONS_UPSERT};"
)


def _calls_function_0006() -> str:
    """0006's function for inserted LLM calls (its text, as that migration wrote it)."""
    text: str = _R6.TRIGGERS
    return text[: text.index("CREATE OR REPLACE FUNCTION omniclaude_rollup_llm_updates")]


_CALLS_0006 = _calls_function_0006()
if _SESSIONS_INSERT_0006 not in _CALLS_0006:  # pragma: no cover - a frozen text changed
    raise RuntimeError("0006's session-mask statement is not where 0009 expects it")
TRIGGER = _CALLS_0006.replace(_SESSIONS_INSERT_0006, SESSIONS_MOVE)
TRIGGER_0006 = _CALLS_0006


def upgrade() -> None:
    """Create the cells, count the stored masks into them, keep them by the LLM trigger."""
    run_script(TABLES)
    total = int(fetchval("SELECT count(*) FROM rollup_llm_sessions_day"))
    with task("rollup_llm_sessions_day: session cells", total) as advance:
        run_script(
            f"INSERT INTO rollup_llm_session_cells ({_NAMES}, sessions)"
            + cells_select("rollup_llm_sessions_day")
            + ";"
        )
        advance(total)
    run_script(TRIGGER)


def downgrade() -> None:
    """Back to 0006's trigger function; drop the cells."""
    run_script(TRIGGER_0006)
    run_script("DROP INDEX rollup_llm_sessions_day_session; DROP TABLE rollup_llm_session_cells;")
