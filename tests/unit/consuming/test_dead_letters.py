"""Dead letters keep the original record and say why, where from and when."""

from __future__ import annotations

import asyncio
from typing import Any

from omniclaude.consuming.dead_letters import DeadLetter, DeadLetterPublisher, Header
from omniclaude.errors import EventValidationError
from tests.unit.consuming.records import ACTIONS, record


def _letter(**kwargs: Any) -> DeadLetter:
    original = record(b"{bad", partition=2, offset=41, key=b"k",
                      headers=(("trace", b"t1"), (Header.STAGE, b"stale")), **kwargs)  # fmt: skip
    exc = EventValidationError("action_type: Input should be 'tool_call'", field="action_type")
    return DeadLetter.from_exception(original, f"{ACTIONS}-dlq", exc, stage="decode")


def test_headers_name_the_error_the_origin_and_the_time() -> None:
    """Every required header is there, as UTF-8 text."""
    headers = dict(_letter().headers())
    assert headers[Header.ERROR_CLASS] == b"EventValidationError"
    assert b"action_type" in headers[Header.ERROR_MESSAGE]
    assert headers[Header.ERROR_FIELD] == b"action_type"
    assert headers[Header.STAGE] == b"decode"
    assert headers[Header.ORIGINAL_TOPIC] == ACTIONS.encode()
    assert headers[Header.ORIGINAL_PARTITION] == b"2"
    assert headers[Header.ORIGINAL_OFFSET] == b"41"
    assert headers[Header.ORIGINAL_TIMESTAMP] == b"1767225600000"
    assert headers[Header.FAILED_AT].startswith(b"20")


def test_original_headers_are_kept_but_stale_dead_letter_headers_are_not() -> None:
    """A replayed-then-refused record does not carry two sets of reasons."""
    names = [name for name, _ in _letter().headers()]
    assert names[0] == "trace"
    assert names.count(Header.STAGE) == 1


def test_a_huge_message_is_truncated() -> None:
    """An error message is capped so the dead letter stays a sensible size."""
    letter = DeadLetter.from_exception(record(b"x"), "d", ValueError("x" * 10_000), stage="store")
    assert len(letter.error_message) < 4100
    assert letter.error_field is None
    assert Header.ERROR_FIELD not in dict(letter.headers())


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []

    async def send(self, topic: str, *, value: bytes | None, key: bytes | None,
                   headers: list[tuple[str, bytes]]) -> asyncio.Future[None]:  # fmt: skip
        self.sent.append((topic, value, key, headers))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_the_publisher_sends_the_original_bytes_and_waits_for_acks() -> None:
    """Value and key are the original ones; publish returns once every send is acked."""
    producer = _Producer()
    await DeadLetterPublisher(producer).publish([_letter()])
    await DeadLetterPublisher(producer).publish([])
    ((topic, value, key, headers),) = producer.sent
    assert (topic, value, key) == (f"{ACTIONS}-dlq", b"{bad", b"k")
    assert dict(headers)[Header.ORIGINAL_OFFSET] == b"41"
