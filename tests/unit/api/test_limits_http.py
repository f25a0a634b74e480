"""The contract's limits over HTTP: 422 naming the field per item, 413 before a big body is
read, 422 for values the database refuses and 503 only for outages."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from fastapi import Request

from omniclaude.api.errors import install_error_handlers
from omniclaude.events.limits import MAX_EVENT_BYTES, MAX_REQUEST_BYTES
from omniclaude.retry import is_data_error
from tests.strategies import BAD_VALUES, BadValue
from tests.unit.api.conftest import Api

_CID = str(uuid.uuid4())
_VALID: dict[str, Any] = {
    "correlation_id": _CID, "action_type": "tool_call", "action_name": "bash",
    "action_details": {"cmd": "ls"},
}  # fmt: skip


def _body(*events: dict[str, Any]) -> bytes:
    # json.dumps writes NaN/Infinity literals and escaped surrogates, as careless clients do.
    return json.dumps({"events": list(events), "default_type": "agent_action"}).encode()


@pytest.mark.parametrize("bad", BAD_VALUES, ids=str)
async def test_post_events_refuses_each_unstorable_value_naming_the_field(
    api: Api, bad: BadValue
) -> None:
    """Every kind of value the database could not hold is a per-item error naming its field;
    the valid item of the same batch is accepted and nothing refused reaches the sink."""
    response = await api.client.post(
        "/events",
        content=_body(_VALID, {**_VALID, **bad.patch}),
        headers={**api.auth("ingest"), "Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
    data = response.json()
    assert (data["accepted"], data["rejected"]) == (1, 1)
    assert data["errors"][0]["field"] == f"body.events[1].{bad.field}", data["errors"]
    assert len(api.sink.events) == 1


async def test_post_events_refuses_an_event_larger_than_a_broker_message(api: Api) -> None:
    """An event over MAX_EVENT_BYTES once encoded is a 422 for that item, not a 202 followed
    by a dead letter."""
    big = {**_VALID, "action_details": {"blob": "x" * MAX_EVENT_BYTES}}
    response = await api.client.post(
        "/events",
        content=_body(big),
        headers={**api.auth("ingest"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.events[0]"
    assert "bytes once encoded" in response.json()["errors"][0]["message"]
    assert not api.sink.events


async def test_request_body_over_the_limit_is_413_before_it_is_read(api: Api) -> None:
    """A Content-Length over the limit is answered 413 at once; a chunked body is counted as
    it streams and cut at the limit; both name ``body``."""
    headers = {**api.auth("ingest"), "Content-Type": "application/json"}
    declared = await api.client.post(
        "/events", content=b" " * (MAX_REQUEST_BYTES + 1), headers=headers
    )
    assert declared.status_code == 413
    assert declared.json()["errors"][0]["field"] == "body"
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(MAX_REQUEST_BYTES // 2**20 + 50):
            sent += 2**20
            yield b" " * 2**20

    streamed = await api.client.post("/events", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    assert streamed.json()["message"].startswith("body: larger than")
    assert sent < MAX_REQUEST_BYTES + 3 * 2**20, "the body was read past the limit"
    malformed = await api.client.post(
        "/events", content=b"{}", headers={**headers, "Content-Length": "x"}
    )
    assert malformed.status_code in {400, 422}


class _SqlstateError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("exc", "data"),
    [
        (asyncpg.exceptions.CharacterNotInRepertoireError("nul"), True),
        (asyncpg.exceptions.DatetimeFieldOverflowError("range"), True),
        (asyncpg.exceptions.DataError("invalid input for query argument $1"), True),
        (asyncpg.exceptions._base.DataError("cannot encode"), True),  # client side
        (_SqlstateError("54000"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("gone"), False),
        (asyncpg.exceptions.CannotConnectNowError("restarting"), False),
        (OSError("connection refused"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_data_errors_are_the_callers_outages_are_not(exc: BaseException, data: bool) -> None:
    """SQLSTATE class 22/23/54 and values the driver cannot encode are the data's fault; a
    lost connection or a restarting server is an outage."""
    assert is_data_error(exc) is data
    wrapped = RuntimeError("wrapper")
    wrapped.__cause__ = exc
    assert is_data_error(wrapped) is data


async def test_database_data_errors_answer_422_and_outages_503(api: Api) -> None:
    """A query the database refuses for its values is a 422 naming the request; an outage
    is a 503 (never a 500)."""
    raised: dict[str, BaseException] = {
        "data": asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence"),
        "outage": asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    }

    @api.app.get("/__test_db_error/{kind}")
    async def fail(kind: str, request: Request) -> None:
        raise raised[kind]

    install_error_handlers(api.app)
    data = await api.client.get("/__test_db_error/data")
    assert data.status_code == 422, data.text
    assert data.json()["errors"][0]["field"] == "(request)"
    outage = await api.client.get("/__test_db_error/outage")
    assert outage.status_code == 503, outage.text
