"""PII and secret redaction: by key name, by value pattern, configurable, never leaking."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniclaude.events import AgentAction, ManifestInjection, RoutingDecision
from omniclaude.publishing.redaction import (
    DEFAULT_PATTERNS,
    REDACTED,
    RedactionRules,
    Redactor,
    luhn_valid,
    sanitize_pii,
)

CID = uuid.uuid4()

SECRETS = {
    "email": "jane.doe+tag@example.co.uk",
    "bearer": "Bearer eyAbCdEfGhIjKlMnOpQr",
    "openai": "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234",
    "github": "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    "card": "4111 1111 1111 1111",
    "url": "postgresql://admin:hunter2@db.internal:5432/app",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
}


def test_sanitize_pii():
    """The spec's unit test: email and password keys become the marker."""
    input_data = {"email": "user@example.com", "password": "secret123"}

    result = sanitize_pii(input_data)

    assert result["email"] == "***REDACTED***"
    assert result["password"] == "***REDACTED***"


def test_input_is_not_modified() -> None:
    """Redaction returns a copy; the caller's data is untouched."""
    data = {"nested": {"password": "p"}, "items": ["a@b.com"]}
    sanitize_pii(data)
    assert data == {"nested": {"password": "p"}, "items": ["a@b.com"]}


@pytest.mark.parametrize(
    "key",
    ["password", "Password", "db_password", "api_key", "apiKey", "X-Api-Key", "Authorization",
     "cookie", "set-cookie", "client_secret", "github_token", "access_token", "user_email",
     "private_key", "aws_secret_access_key", "credentials"],
)  # fmt: skip
def test_sensitive_keys_are_redacted_whatever_the_value(key: str) -> None:
    """A value under a sensitive key name is replaced, whatever its type."""
    for value in ("plain", 12345, {"nested": "x"}, ["a", "b"]):
        assert sanitize_pii({key: value}) == {key: REDACTED}, f"{key}={value!r} leaked"


@pytest.mark.parametrize("key", ["max_tokens", "token_count", "tokens_used", "keyboard", "pwd"])
def test_innocent_keys_are_kept(key: str) -> None:
    """Keys that only look like secrets (token counts, the working directory) are kept."""
    assert sanitize_pii({key: 42}) == {key: 42}


def test_empty_none_and_bool_under_sensitive_keys_are_kept() -> None:
    """Nothing to hide in None, an empty string or a flag."""
    data = {"password": None, "token": "", "secret": True}
    assert sanitize_pii(data) == data


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_value_patterns_are_redacted_inside_text(name: str) -> None:
    """A secret inside free text is replaced; the surrounding words stay."""
    text = f"before {SECRETS[name]} after"
    result = sanitize_pii({"note": text})["note"]
    assert SECRETS[name] not in result, f"{name} leaked: {result!r}"
    assert result.startswith("before")
    assert REDACTED in result


def test_card_numbers_need_the_luhn_check() -> None:
    """A 16-digit number that fails Luhn (an order id) is kept; a valid card is not."""
    assert sanitize_pii("order 1234567812345678") == "order 1234567812345678"
    assert sanitize_pii("card 4242-4242-4242-4242") == f"card {REDACTED}"
    assert sanitize_pii({"n": 4111111111111111}) == {"n": REDACTED}
    assert sanitize_pii({"n": 1234567812345678}) == {"n": 1234567812345678}


def test_card_followed_by_another_number_is_still_found() -> None:
    """A card number next to another digit group ("... 1111 0 items") is still redacted."""
    assert sanitize_pii("4111 1111 1111 1111 0 items") == f"{REDACTED} 0 items"
    assert sanitize_pii("7 4111-1111-1111-1111") == f"7 {REDACTED}"


def test_uuids_and_hex_ids_are_not_cards() -> None:
    """Digit groups inside a UUID never pass for a card number."""
    text = "id ff8c651f-7aab-45f8-8328-799547807fa8 and 45f8-8328-7995-4780-7fa8"
    assert sanitize_pii(text) == text


def test_luhn() -> None:
    """The Luhn check accepts known card numbers and rejects short or altered ones."""
    assert luhn_valid("4111111111111111")
    assert luhn_valid("5500 0000 0000 0004")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("411111")


def test_truncated_private_key_block_is_redacted_to_the_end() -> None:
    """A key block without its END line (a truncated log) is still hidden."""
    text = "key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
    assert sanitize_pii(text) == f"key: {REDACTED}"


def test_nested_lists_tuples_and_sets() -> None:
    """Redaction walks through every container type."""
    data = {"a": [{"b": ("x@y.io", 1)}], "s": frozenset({"ok"})}
    result = sanitize_pii(data)
    assert result == {"a": [{"b": (REDACTED, 1)}], "s": frozenset({"ok"})}


def test_extra_keys_and_patterns() -> None:
    """Configured keys and patterns are redacted as well as the defaults."""
    rules = RedactionRules.build(
        extra_keys=["ssn_last4", "Patient-Name"], extra_patterns=[r"\bID-\d{4}\b"]
    )
    result = sanitize_pii({"ssn_last4": "1234", "patient_name": "Ann", "t": "see ID-9876"}, rules)
    assert result == {"ssn_last4": REDACTED, "patient_name": REDACTED, "t": f"see {REDACTED}"}


def test_allow_lists() -> None:
    """Allow-listed keys and values are kept."""
    rules = RedactionRules.build(allow_keys=["email"], allow_values=["support@omniclaude.dev"])
    result = sanitize_pii(
        {"email": "x@y.com", "to": "support@omniclaude.dev", "cc": "a@b.org"}, rules
    )
    assert result == {"email": REDACTED, "to": "support@omniclaude.dev", "cc": REDACTED}
    # The key is allowed (not redacted by name) but its text is still scanned.
    assert sanitize_pii({"email": "n/a"}, rules) == {"email": "n/a"}


def test_defaults_can_be_switched_off() -> None:
    """Without default keys and patterns only the extra rules apply."""
    rules = RedactionRules.build(
        use_default_keys=False, use_default_patterns=False, extra_keys=["pin"]
    )
    assert sanitize_pii({"password": "p", "pin": 1, "m": "a@b.com"}, rules) == {
        "password": "p", "pin": REDACTED, "m": "a@b.com",
    }  # fmt: skip


def test_invalid_extra_pattern_names_the_setting() -> None:
    """A bad regular expression is refused with the setting's name."""
    with pytest.raises(ValueError, match="extra_patterns"):
        RedactionRules.build(extra_patterns=["(unclosed"])


def test_custom_replacement() -> None:
    """The marker is configurable."""
    assert sanitize_pii({"token": "t"}, RedactionRules(replacement="[x]")) == {"token": "[x]"}


def test_clean_values_are_returned_as_the_same_object() -> None:
    """Nothing to redact: no copy is made (the fast path)."""
    data = {"cmd": "ls -la", "n": [1, 2, {"k": "v"}]}
    assert sanitize_pii(data) is data


def test_redact_event_covers_payload_fields_and_keeps_ids() -> None:
    """Events: details, names, prompts and extras are redacted; ids and times are kept."""
    event = AgentAction(
        correlation_id=CID, action_type="tool_call", action_name="curl",
        action_details={"headers": {"Authorization": "Bearer abcdefghijklmnop"}},
        working_directory="/home/a@b.com", api_key="sk-abcdefghijklmnopqrstuvwx",
    )  # fmt: skip
    redacted = Redactor().redact_event(event)
    assert redacted.action_details == {"headers": {"Authorization": REDACTED}}
    assert redacted.working_directory == f"/home/{REDACTED}"
    assert redacted.extra_fields() == {"api_key": REDACTED}
    assert (redacted.event_id, redacted.correlation_id, redacted.timestamp) == (
        event.event_id, event.correlation_id, event.timestamp,
    )  # fmt: skip


def test_redact_event_without_secrets_returns_the_same_event() -> None:
    """A clean event is not rebuilt."""
    event = AgentAction(correlation_id=CID, action_type="decision", action_name="pick x")
    assert Redactor().redact_event(event) is event


def test_redact_event_nested_models() -> None:
    """Nested models (routing alternatives, manifest sections) are redacted too."""
    decision = RoutingDecision(
        correlation_id=CID, user_request="mail bob@corp.com", selected_agent="a",
        confidence_score=0.9, routing_strategy="fuzzy", routing_time_ms=1,
        alternatives=[{"agent_name": "b", "confidence": 0.5, "reason": f"key sk-{'a' * 20}"}],
    )  # fmt: skip
    redacted = Redactor().redact_event(decision)
    assert redacted.user_request == f"mail {REDACTED}"
    assert redacted.alternatives[0].reason == f"key {REDACTED}"
    manifest = ManifestInjection(
        correlation_id=CID, agent_name="a", total_query_time_ms=1,
        sections=[{"name": "clean", "size_bytes": 3}],
    )  # fmt: skip
    assert Redactor().redact_event(manifest) is manifest


# ------------------------------------------------------------------ property
_patterns = [re.compile(p) for name, p in DEFAULT_PATTERNS.items() if name != "card_number"]
_secret = st.sampled_from(sorted(SECRETS.values()))
_word = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), max_size=12
)
# Secrets are delimited by whitespace in real text (a card number glued to more digits is a
# different number), so the generator separates them with a space.
_text = st.builds(lambda a, s, b: f"{a} {s} {b}", _word, _secret, _word) | _word
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["a", "note", "cmd", "password", "x"]) | _word, children, max_size=4
        )
    ),
    max_leaves=20,
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


@settings(max_examples=300, deadline=None)
@given(_json)
def test_no_configured_pattern_survives(data: Any) -> None:
    """Property: after redaction no default pattern matches any string, at any depth."""
    result = sanitize_pii(data)
    for text in _strings(result):
        for pattern in _patterns:
            assert not pattern.search(text), f"{pattern.pattern!r} survived in {text!r}"
        digits = re.sub(r"\D", "", text)
        assert "4111111111111111" not in digits or "4111 1111 1111 1111" not in text, text
        for secret in SECRETS.values():
            assert secret not in text, f"secret {secret!r} leaked in {text!r}"
