"""Shaping values: truncation records the original size; redaction covers what is kept."""

from __future__ import annotations

from omniclaude.hooks.shaping import Shaper, json_size
from omniclaude.publishing.redaction import REDACTED, sanitize_pii


def test_small_values_are_kept_whole() -> None:
    """A value under the limit is kept as it is, with its size."""
    kept, info = Shaper(redact=sanitize_pii, max_value_bytes=1000).trim({"a": [1, 2]})
    assert kept == {"a": [1, 2]}
    assert info == {"bytes": len('{"a":[1,2]}'), "truncated": False}


def test_large_values_are_truncated_with_the_original_size() -> None:
    """A large response becomes a bounded preview that records the original size."""
    value = {"content": "x" * 5000}
    kept, info = Shaper(redact=sanitize_pii, max_value_bytes=300).trim(value)
    assert info["truncated"]
    assert info["bytes"] == json_size(value)[1]
    assert kept["truncated"] is True
    assert kept["original_bytes"] == info["bytes"]
    assert len(kept["preview"].encode()) <= 300


def test_truncation_never_splits_a_character() -> None:
    """The preview of multi-byte text is valid text."""
    kept, _ = Shaper(redact=sanitize_pii, max_value_bytes=256).trim("é" * 1000)
    assert set(kept["preview"]) == {"é"}


def test_details_are_redacted_by_key_and_by_pattern() -> None:
    """Secrets in the kept details are redacted (key names and value patterns)."""
    shaper = Shaper(redact=sanitize_pii)
    details = shaper.details({"tool_input": {"password": "hunter2", "cmd": "mail bob@example.com"}})
    assert details["tool_input"]["password"] == REDACTED
    assert "bob@example.com" not in str(details)


def test_text_is_cut_and_redacted() -> None:
    """Free text is bounded and redacted; None stays None; non-text becomes JSON text."""
    shaper = Shaper(redact=sanitize_pii, max_text_bytes=64)
    text = shaper.text("contact me at alice@example.com " + "y" * 500)
    assert text is not None
    assert "alice@example.com" not in text
    assert text.endswith("[truncated]")
    assert shaper.text(None) is None
    assert shaper.text({"a": 1}) == '{"a":1}'


def test_mapping_trims_each_value() -> None:
    """Extra fields are each truncated independently."""
    shaper = Shaper(redact=sanitize_pii, max_value_bytes=256)
    out = shaper.mapping({"small": 1, "big": "z" * 1000})
    assert out["small"] == 1
    assert out["big"]["truncated"] is True
