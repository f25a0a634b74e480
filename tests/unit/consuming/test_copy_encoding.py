"""The COPY path's row values: shared producer/metadata objects encode like any other."""

from __future__ import annotations

import json
import uuid

from omniclaude.events import AgentAction, ProducerInfo, loads
from omniclaude.storage import writers
from omniclaude.storage.writers import WRITERS


def _row(**kwargs: object) -> dict[str, object]:
    writer = WRITERS["agent_actions"]
    event = AgentAction(correlation_id=uuid.uuid4(), action_type="decision", action_name="d",
                        **kwargs)  # type: ignore[arg-type]  # fmt: skip
    return dict(zip(writer.columns, writer.row(event), strict=True))


def test_events_of_one_producer_share_one_encoded_producer() -> None:
    """Equal producers map to one dict, encoded once, with the same bytes as a fresh dump."""
    producer = ProducerInfo(host="h1", pid=42)
    one, two = _row(producer=producer), _row(producer=ProducerInfo(host="h1", pid=42))
    assert one["producer"] is two["producer"]
    encoded = writers._encode_jsonb(one["producer"])
    assert encoded[:1] == b"\x01"
    assert json.loads(encoded[1:]) == producer.model_dump(mode="json")
    assert writers._decode_jsonb(encoded) == producer.model_dump(mode="json")


def test_a_producer_with_extra_fields_is_dumped_each_time() -> None:
    """Unusual producers are not cached but still stored whole."""
    row = _row(producer=ProducerInfo(host="h", pid=1, region="eu"))
    assert row["producer"]["region"] == "eu"
    assert loads(writers._encode_jsonb(row["producer"])[1:])["region"] == "eu"


def test_empty_metadata_is_shared_and_extra_fields_are_kept() -> None:
    """No extra fields: the shared empty object; extra fields: a metadata object of their own."""
    assert _row()["metadata"] is _row()["metadata"]
    assert writers._encode_jsonb(_row()["metadata"]) == b"\x01{}"
    assert _row(future_field=1)["metadata"] == {"extra": {"future_field": 1}}


def test_the_producer_cache_is_bounded() -> None:
    """Past its limit the cache starts again instead of growing without end."""
    before = len(writers._PRODUCERS)
    for pid in range(writers._CACHE_LIMIT + 5 - before):
        _row(producer=ProducerInfo(host="many", pid=pid))
    assert len(writers._PRODUCERS) <= writers._CACHE_LIMIT
