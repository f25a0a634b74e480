"""One validation per event: details converted once, the model the only validator, the
redaction screen never letting a secret through, event ids as uuid4 makes them."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import pydantic_core
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniclaude.errors import EventValidationError
from omniclaude.events import AgentAction
from omniclaude.events import base as events_base
from omniclaude.events.base import JSON_NATIVE, new_event_id
from omniclaude.events.limits import MAX_ACTION_NAME_CHARS
from omniclaude.publishing import ActionLogger, KafkaSink, emitter
from omniclaude.publishing.redaction import (
    DEFAULT_SENSITIVE_KEYS,
    REDACTED,
    RedactionRules,
    Redactor,
)
from omniclaude.publishing.sinks import pump
from omniclaude.settings import ProducerSettings
from omniclaude.testing import InMemorySink

from .test_kafka_sink import FakeBroker
from .test_redaction import SECRETS

CID = uuid.uuid4()


class _Counter:
    """Wraps a function and counts its calls."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.function(*args, **kwargs)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, _Counter]:
    """Count the details' conversions and checks, and forbid any model_dump."""
    convert = _Counter(events_base.to_json_native)
    check = _Counter(events_base.json_problem)
    walk = _Counter(events_base.clean_copy)
    monkeypatch.setattr(events_base, "to_json_native", convert)
    monkeypatch.setattr(emitter, "to_json_native", convert)
    monkeypatch.setattr(events_base, "json_problem", check)
    monkeypatch.setattr(events_base, "clean_copy", walk)

    def no_dump(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an event was dumped to be validated again")

    monkeypatch.setattr(AgentAction, "model_dump", no_dump)
    return {"convert": convert, "check": check, "walk": walk}


async def test_a_tool_call_is_converted_and_checked_once(counted: dict[str, _Counter]) -> None:
    """log_tool_call: params converted (copied) and checked once, in one walk by the model
    (no separate conversion or check), nothing dumped."""
    sink = InMemorySink()
    params = {"command": "ls", "env": {"CI": "1"}}
    action = await ActionLogger(sink=sink).log_tool_call(CID, "Bash", params, {"ok": True})
    assert counted["walk"].calls == 1
    assert counted["convert"].calls == counted["check"].calls == 0
    assert sink.actions == [action]
    assert action.action_details == {"params": params, "result": {"ok": True}}
    assert action.action_details["params"] is not params  # the one copy


async def test_a_secret_builds_the_sent_event_from_redacted_values(
    counted: dict[str, _Counter],
) -> None:
    """With a secret, the event sent is built from the redacted values (no dump, same id and
    time); the event returned keeps the caller's values."""
    sink = InMemorySink()
    action = await ActionLogger(sink=sink).log_tool_call(CID, "curl", {"token": "t0p"})
    (sent,) = sink.actions
    assert action.action_details["params"] == {"token": "t0p"}
    assert sent.action_details["params"] == {"token": REDACTED}
    assert (sent.event_id, sent.timestamp, sent.started_at) == (
        action.event_id, action.timestamp, action.started_at,
    )  # fmt: skip
    assert counted["walk"].calls == 1
    assert counted["convert"].calls == 0


async def test_details_that_are_not_plain_json_are_converted_then_checked_once(
    counted: dict[str, _Counter],
) -> None:
    """A UUID in the params sends the model down the general path: the walk gives up, the
    details are converted once and checked once; a logger with its own redactor converts
    them itself (before redacting) and the model only checks them."""
    sink = InMemorySink()
    ref = uuid.uuid4()
    action = await ActionLogger(sink=sink).log_tool_call(CID, "Bash", {"ref": ref})
    assert action.action_details["params"] == {"ref": str(ref)}
    assert (counted["walk"].calls, counted["convert"].calls, counted["check"].calls) == (1, 1, 1)
    logger = ActionLogger(sink=sink, redactor=Redactor(RedactionRules()))
    action = await logger.log_tool_call(CID, "curl", {"token": "t0p", "n": 1})
    assert action.action_details["params"] == {"token": REDACTED, "n": 1}
    assert (counted["walk"].calls, counted["convert"].calls, counted["check"].calls) == (1, 2, 2)


async def test_names_are_cut_in_one_place_and_refused_by_the_model() -> None:
    """A long tool name is truncated to the contract's length; a blank one is refused by the
    model, the error naming the caller's argument."""
    sink = InMemorySink()
    logger = ActionLogger(sink=sink)
    action = await logger.log_tool_call(CID, "x" * 2000)
    assert len(action.action_name) == MAX_ACTION_NAME_CHARS
    assert action.action_name.endswith("…")
    with pytest.raises(EventValidationError, match="tool_name") as info:
        await logger.log_tool_call(CID, " \t")
    assert info.value.field == "tool_name"
    with pytest.raises(EventValidationError, match=r"action_details\.params\.n") as info:
        await logger.log_tool_call(CID, "Bash", {"n": float("nan")})
    assert info.value.field == "action_details.params.n"


def test_json_native_context_checks_without_converting() -> None:
    """JSON_NATIVE: details are taken as given (already converted) and still checked."""
    details = {"a": [1, "x"]}
    fields = {"correlation_id": CID, "action_type": "tool_call", "action_name": "n"}
    event = AgentAction.model_validate({**fields, "action_details": details}, context=JSON_NATIVE)
    assert event.action_details["a"] is details["a"]
    with pytest.raises(ValueError, match="NUL"):
        AgentAction.model_validate({**fields, "action_details": {"a": "\x00"}}, context=JSON_NATIVE)


# ------------------------------------------------------------------ the screen
_TRAPS = "\u0130\u0131\u017f\u212a"
_alphabet = st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs", "Cc"])
_fragment = st.sampled_from(
    [
        *SECRETS.values(), "Bearer ", "token\t", "basic\u00a0", "sk-", "@", "://", "-", " ",
        "4111", "1111", "\n", '"', "\\", *_TRAPS, "eyJ", "AKIA", "oc_", "gh", "xox",
        "aws_secret_access_key=", "PRIVATE KEY-----",
    ]
)  # fmt: skip
_string = st.lists(_fragment | st.text(_alphabet, max_size=6), max_size=8).map("".join)
_key = st.sampled_from(
    [
        *sorted(DEFAULT_SENSITIVE_KEYS), "apiKey", "X-Api-Key", "dbPassword", "to\u212aen",
        "max_tokens", "note", "Set Cookie", "github_token",
    ]
) | _string  # fmt: skip
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _string,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_key, children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_the_screen_sees_everything_a_rule_would_change(value: Any) -> None:
    """Property: whenever the exact walk would change a value, the screen over the value's
    JSON text says "maybe" (a clean screen may skip the walk)."""
    redactor = Redactor()
    if redactor.redact(value) != value:
        try:
            text = pydantic_core.to_json(value)
        except pydantic_core.PydanticSerializationError:
            return  # not serialisable: the sinks walk such an event
        assert redactor.screen(text), text


def test_the_screen_is_skipped_for_user_patterns() -> None:
    """A user's Python regex has no RE2 stand-in: such a redactor walks every payload."""
    redactor = Redactor(RedactionRules.build(extra_patterns=[r"patient-\d+"]))
    assert redactor.screen(b"{}")
    event = AgentAction(
        correlation_id=CID, action_type="decision", action_name="d",
        action_details={"note": "patient-12"},
    )  # fmt: skip
    assert redactor.redact_event(event).action_details == {"note": REDACTED}


async def test_a_case_folding_key_is_redacted_by_every_sink() -> None:
    """'to\\u212aen' lower-cases to 'token': the screen sends it to the walk."""
    sink = InMemorySink()
    await ActionLogger(sink=sink).log_tool_call(CID, "x", {"to\u212aen": "v", "ok": "fine"})
    assert sink.actions[0].action_details["params"] == {"to\u212aen": REDACTED, "ok": "fine"}


# ------------------------------------------------------------------ event ids
def test_event_ids_are_version_4_and_unique() -> None:
    """new_event_id makes what uuid4 makes: RFC 4122 version 4, equal to its parsed text."""
    ids = [new_event_id() for _ in range(3000)]
    assert len(set(ids)) == len(ids)
    for made in ids[:300]:
        assert made.version == 4
        assert made.variant == uuid.RFC_4122
        assert uuid.UUID(str(made)) == made
        assert hash(uuid.UUID(str(made))) == hash(made)


def test_a_forked_child_never_reuses_the_parents_ids() -> None:
    """The batch of random bytes is dropped in a forked child."""
    new_event_id()  # the parent holds a batch now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        os.write(write, "".join(str(new_event_id()) for _ in range(8)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        child = pipe.read().decode()
    os.waitpid(pid, 0)
    parent = {str(new_event_id()) for _ in range(300)}
    child_ids = {child[i : i + 36] for i in range(0, len(child), 36)}
    assert len(child_ids) == 8
    assert not child_ids & parent


# ------------------------------------------------------------------ durability window
class _CountingBroker(FakeBroker):
    def __init__(self) -> None:
        super().__init__()
        self.up = False
        self.connects = 0

    async def connect(self) -> bool:
        self.connects += 1
        return await super().connect()


async def test_with_the_broker_away_events_reach_the_outbox_within_one_backoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events sent during a (long) backoff are spooled before the next connection attempt:
    they do not wait the backoff out in memory only."""
    monkeypatch.setattr(pump, "BACKOFF_INITIAL_S", 600.0)
    monkeypatch.setattr(pump, "BACKOFF_MAX_S", 600.0)
    sink = KafkaSink(
        bootstrap_servers=["127.0.0.1:1"], spool_dir=tmp_path,
        producer=ProducerSettings(flush_timeout_s=0.1), request_timeout_ms=100,
    )  # fmt: skip
    broker = _CountingBroker()
    sink.broker = broker  # type: ignore[assignment]
    logger = ActionLogger(sink=sink)
    async with sink:
        while broker.connects == 0:
            await asyncio.sleep(0.01)
        for i in range(5):
            await logger.log_decision(CID, f"step {i}")
        assert await sink.wait_durable(60)
        assert len(sink.outbox) == 5
        assert broker.connects == 1  # still inside the first backoff
