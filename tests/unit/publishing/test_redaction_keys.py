"""Secrets used as mapping keys are redacted like values."""

from __future__ import annotations

from omniclaude.publishing.redaction import sanitize_pii


def test_an_email_used_as_a_key_is_redacted() -> None:
    """{"dev@example.com": 1} keeps its value under a redacted key."""
    result = sanitize_pii({"owners": {"dev@example.com": 1, "ops@example.com": 2, "x": 3}})
    owners = result["owners"]
    assert not any("@" in key for key in owners), owners
    assert sorted(owners.values()) == [1, 2, 3], "a value was lost when two keys were redacted"


def test_plain_keys_are_untouched() -> None:
    """Ordinary keys are kept as they are (and the mapping is not copied needlessly)."""
    data = {"file_path": "main.py", "n": 1}
    assert sanitize_pii(data) == data
