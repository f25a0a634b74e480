"""The dead-letter header codec: one shape for the SDK's and the consumer's letters."""

from __future__ import annotations

from datetime import UTC, datetime

from omniclaude.kafka import DeadLetterHeaders, Header, describe_error, foreign_headers


def test_headers_round_trip_for_a_produce_stage_letter() -> None:
    """What the SDK writes is what ``omniclaude dlq`` reads back."""
    letter = DeadLetterHeaders(
        error_class="MessageSizeTooLargeError", error_message="too big", stage="produce",
        original_topic="p.agent-actions", event_id="e1", original_size=5000, truncated=True,
        failed_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )  # fmt: skip
    encoded = letter.encode()
    assert dict(encoded)[Header.TRUNCATED] == b"true"
    assert Header.ORIGINAL_PARTITION not in dict(encoded), "absent fields are left out"
    assert DeadLetterHeaders.decode(encoded) == letter


def test_consumer_letters_carry_the_record_position() -> None:
    """Partition, offset and timestamp are encoded as text and decoded as integers."""
    letter = DeadLetterHeaders(
        error_class="EventValidationError", error_message="action_type: bad", stage="decode",
        original_topic="agent-actions", original_partition=0, original_offset=41,
        original_timestamp=1767225600000, error_field="action_type",
    )  # fmt: skip
    decoded = DeadLetterHeaders.decode([*letter.encode(), ("trace", b"t1")])
    assert (decoded.original_partition, decoded.original_offset) == (0, 41)
    assert decoded.error_field == "action_type"
    assert decoded.truncated is None


def test_missing_headers_decode_to_empty_values_and_the_default_topic() -> None:
    """A record without our headers (or with garbage in them) still decodes."""
    decoded = DeadLetterHeaders.decode(
        [(Header.ORIGINAL_OFFSET, b"not a number"), (Header.FAILED_AT, b"yesterday")],
        default_topic="agent-actions",
    )
    assert decoded.original_topic == "agent-actions"
    assert decoded.original_offset is None
    assert decoded.error_class == ""


def test_stale_letter_headers_are_dropped_and_messages_bounded() -> None:
    """A replayed-then-refused record keeps its own headers but not the old reasons."""
    kept = foreign_headers([("trace", b"t"), (Header.STAGE, b"old"), ("none", None)])
    assert kept == [("trace", b"t"), ("none", b"")]
    assert len(describe_error(ValueError("x" * 10_000))) < 4100
    assert describe_error(ValueError()) == "ValueError()"
