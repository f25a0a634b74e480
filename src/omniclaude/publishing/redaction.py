"""PII and secret redaction, applied by every sink before an event leaves the process.

Two mechanisms, both recursive through dicts, lists and tuples:

* **by key name**: the value under a key such as ``password``, ``api_key``, ``authorization``,
  ``cookie`` or ``email`` becomes ``"***REDACTED***"`` whatever it is (string, number, object);
* **by value pattern**: inside any string, e-mail addresses, bearer/basic credentials, API keys
  of well-known formats (OmniClaude's ``oc_...``, ``sk-...``, GitHub, Slack, Google, AWS access
  key ids), JWTs, private key blocks, passwords in URLs and card numbers passing the Luhn check
  are replaced by the marker.

Rules are configurable with :class:`RedactionRules` (extra keys, extra patterns, allow-lists).

Speed: the common case is a payload with nothing to redact. :meth:`Redactor.redact_fields`
(the loggers redact an event's field values before the event is built) and
:meth:`Redactor.redact_event` first serialise the payload once (C) and run one precompiled
screen over that JSON text (RE2, linear time): a pattern that matches the JSON text of every
value a rule could change (a sensitive key ending a key, each value pattern without its
look-arounds, long digit runs, the four non-ASCII letters Python's case-insensitive matching
treats as ASCII). Only when the screen matches is the payload walked (the exact rules below;
strings shorter than the shortest possible secret are skipped, and cheap substring hints pick
the patterns worth running). With user ``extra_patterns`` (Python regexes the screen cannot
stand in for) every payload is walked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, TypeVar

import pydantic_core
import re2
from pydantic import BaseModel

from omniclaude.events.base import JSON_NATIVE, EventBase

__all__ = [
    "DEFAULT_PATTERNS",
    "DEFAULT_SENSITIVE_KEYS",
    "REDACTED",
    "RedactionRules",
    "Redactor",
    "default_redactor",
    "luhn_valid",
    "sanitize_pii",
]

REDACTED: Final = "***REDACTED***"
"""What a redacted value or substring is replaced with."""

DEFAULT_SENSITIVE_KEYS: Final[frozenset[str]] = frozenset(
    {
        "password", "passwd", "passphrase", "secret", "client_secret", "token", "access_token",
        "refresh_token", "id_token", "auth_token", "session_token", "api_key", "apikey",
        "x_api_key", "authorization", "proxy_authorization", "auth", "cookie", "set_cookie",
        "cookies", "email", "email_address", "private_key", "secret_key", "access_key",
        "aws_secret_access_key", "aws_session_token", "credentials", "credential",
        "credit_card", "card_number", "cvv", "ssn",
    }
)  # fmt: skip
"""Normalised key names whose values are always redacted (lower case, ``-``/space → ``_``)."""

_SENSITIVE_SUFFIXES: Final = (
    "_password", "_passwd", "_secret", "_token", "_api_key", "_apikey", "_private_key",
    "_secret_key", "_access_key", "_email", "_cookie", "_credentials",
)  # fmt: skip
"""A key ending in one of these (``db_password``, ``github_token``) is sensitive too."""

DEFAULT_PATTERNS: Final[dict[str, str]] = {
    "private_key": (
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----"
        r"(?:[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*)"
    ),
    "bearer": r"(?i:\b(?:bearer|basic|token)\s+)[A-Za-z0-9\-._~+/]{8,}=*",
    "jwt": r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}",
    "openai_key": r"\bsk-[A-Za-z0-9_\-]{16,}",
    "omniclaude_key": r"(?<![A-Za-z0-9])oc_[A-Za-z0-9_\-]{12,}",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
    "slack_token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    "google_api_key": r"\bAIza[0-9A-Za-z_\-]{30,}",
    "aws_access_key_id": r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b",
    "aws_secret": r"(?i:aws_?secret_?access_?key\s*[=:]\s*)[A-Za-z0-9/+=]{30,}",
    "url_password": r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)",
    # Bounded repeats (RFC 5321 limits) keep the scan linear on long blobs without '@'.
    "email": (
        r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}"
        r"\.[A-Za-z]{2,24}"
    ),
    # Not glued to letters, digits or dashes: a UUID's digit groups are not a card.
    "card_number": r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])",
}
"""Named value patterns redacted inside every string (``card_number`` also needs Luhn)."""

_AWS_PREFIXES: Final = ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA")


def _digit_count(text: str) -> int:
    return sum(text.count(digit) for digit in "0123456789")


# Cheap tests (C-level substring searches on the text and its lower-case copy) that must pass
# before a pattern is worth running: Python's regex engine costs ~100 ns per character on
# these alternations, a substring test ~1 ns.
# ruff: noqa: ARG005 - every hint takes (text, lower-case text), whichever it needs
_HINTS: Final[dict[str, Callable[[str, str], bool]]] = {
    "private_key": lambda t, low: "private key" in low,
    "bearer": lambda t, low: "bearer" in low or "basic" in low or "token" in low,
    "jwt": lambda t, low: "eyJ" in t,
    "openai_key": lambda t, low: "sk-" in t,
    "omniclaude_key": lambda t, low: "oc_" in t,
    "github_token": lambda t, low: "_" in t and "gh" in t,
    "slack_token": lambda t, low: "xox" in t,
    "google_api_key": lambda t, low: "AIza" in t,
    "aws_access_key_id": lambda t, low: any(p in t for p in _AWS_PREFIXES),
    "aws_secret": lambda t, low: "secret" in low,
    "url_password": lambda t, low: "://" in t,
    "email": lambda t, low: "@" in t,
    "card_number": lambda t, low: _digit_count(t) >= 13,
}
"""Per default pattern: a necessary condition for it to match (false: skip the regex)."""

_MIN_SECRET_LEN: Final = 6
"""No default pattern matches fewer characters (``a@b.co``): shorter strings are skipped."""

_MAX_PASSES: Final = 4
_CARD_MIN: Final = 10**12  # 13 digits
_CARD_MAX: Final = 10**19  # 20 digits

T = TypeVar("T")
E = TypeVar("E", bound=BaseModel)

_STRUCTURAL_FIELDS: Final = frozenset(
    {
        "event_id", "correlation_id", "parent_correlation_id", "timestamp", "producer",
        "event_type", "schema_version", "action_type", "phase", "status", "routing_decision_id",
        "parent_event_id", "session_id", "prompt_id", "tool_use_id", "claude_agent_id",
        "started_at", "request_id", "message_id", "tool_use_ids",
    }
)  # fmt: skip
"""Envelope and linkage fields: never redacted (ids, times, enums), so traces stay joinable."""

_NOT_REDACTED_TYPES: Final = (bool, int, float, type(None))
"""Top-level field values the walk leaves alone (numbers are redacted only inside JSON)."""

# The screen: for each default value pattern, an RE2 pattern matching the JSON text of every
# string in which the Python pattern matches. Look-arounds and \b are dropped (RE2 has no
# look-arounds, and JSON escapes can stand next to a match), whitespace may be written as an
# escape (a backslash) or be any non-ASCII space, digits are Unicode digits like Python's \d.
_SCREENS: Final[dict[str, str]] = {
    "private_key": r"PRIVATE KEY-----",
    "bearer": r"(?i:bearer|basic|token)(?:[ \\]|[^\x00-\x7f])",
    "jwt": r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}",
    "openai_key": r"sk-[A-Za-z0-9_\-]{16}",
    "omniclaude_key": r"oc_[A-Za-z0-9_\-]{12}",
    "github_token": r"gh[pousr]_[A-Za-z0-9]{20}|github_pat_[A-Za-z0-9_]{20}",
    "slack_token": r"xox[abposr]-[A-Za-z0-9-]{10}",
    "google_api_key": r"AIza[0-9A-Za-z_\-]{30}",
    "aws_access_key_id": r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}",
    "aws_secret": r"(?i:aws_?secret_?access_?key)",
    "url_password": r"://[^/\s:@]+:[^/\s@]+@",
    "email": r"[A-Za-z0-9._%+\-]@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2}",
    # A card (Unicode digits, single spaces or dashes between) not glued to a letter, digit
    # or dash on its left (the char before it, an escape such as \n, or a quote), or an
    # integer in card range (after ':', ',' or '[', maybe negative; or a bare JSON number,
    # at the very start of the text: only a lone value, never an event's payload).
    "card_number": (r"(?:^-?|[^\w-]|\\[btnfr]|\\u[0-9a-fA-F]{4}|[:,\[]-)\p{Nd}(?:[ -]?\p{Nd}){12}"),
}
"""Per default pattern: the RE2 screen over JSON text (see :meth:`Redactor.screen`)."""

_CASE_FOLDING_TRAPS: Final = r"[\x{130}\x{131}\x{17f}\x{212a}]"
"""U+0130, U+0131, U+017F and U+212A (dotted I, dotless i, long s, the Kelvin sign):
``str.lower()`` or Python's case-insensitive matching turn
them into ASCII letters (``"to\\u212aen".lower() == "token"``); text holding one is walked."""


def luhn_valid(digits: str) -> bool:
    """Return whether ``digits`` (spaces and dashes allowed) passes the Luhn check, 13-19 long."""
    numbers = [int(c) for c in digits if c.isdigit()]
    if not 13 <= len(numbers) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(numbers)):
        doubled = digit * 2 if index % 2 == 1 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def _normalise_key(key: str) -> str:
    # camelCase → snake_case, then '-' and ' ' → '_'.
    key = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key)
    return key.lower().replace("-", "_").replace(" ", "_")


@dataclass(frozen=True)
class RedactionRules:
    """What to redact.

    Attributes:
        extra_keys: more key names to redact (matched after normalisation).
        extra_patterns: more regular expressions to redact inside strings.
        allow_keys: key names never redacted by name (their strings are still scanned).
        allow_values: exact strings never redacted (for example a public support address).
        use_default_keys: include :data:`DEFAULT_SENSITIVE_KEYS`.
        use_default_patterns: include :data:`DEFAULT_PATTERNS`.
        replacement: the marker written instead of a secret.
    """

    extra_keys: frozenset[str] = frozenset()
    extra_patterns: tuple[str, ...] = ()
    allow_keys: frozenset[str] = frozenset()
    allow_values: frozenset[str] = frozenset()
    use_default_keys: bool = True
    use_default_patterns: bool = True
    replacement: str = REDACTED

    @classmethod
    def build(
        cls,
        *,
        extra_keys: Iterable[str] = (),
        extra_patterns: Iterable[str | re.Pattern[str]] = (),
        allow_keys: Iterable[str] = (),
        allow_values: Iterable[str] = (),
        use_default_keys: bool = True,
        use_default_patterns: bool = True,
        replacement: str = REDACTED,
    ) -> RedactionRules:
        """Build rules from any iterables (patterns may be compiled or strings).

        Raises:
            ValueError: an extra pattern is not a valid regular expression.
        """
        patterns = tuple(p.pattern if isinstance(p, re.Pattern) else p for p in extra_patterns)
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"extra_patterns: {pattern!r} is not a regex: {exc}") from exc
        return cls(
            extra_keys=frozenset(_normalise_key(k) for k in extra_keys),
            extra_patterns=patterns,
            allow_keys=frozenset(_normalise_key(k) for k in allow_keys),
            allow_values=frozenset(allow_values),
            use_default_keys=use_default_keys,
            use_default_patterns=use_default_patterns,
            replacement=replacement,
        )


class Redactor:
    """Applies one set of :class:`RedactionRules`; reuse it (patterns are compiled once).

    Args:
        rules: the rules; None means the defaults.
    """

    def __init__(self, rules: RedactionRules | None = None) -> None:
        self.rules = rules if rules is not None else RedactionRules()
        keys = set(self.rules.extra_keys)
        if self.rules.use_default_keys:
            keys |= DEFAULT_SENSITIVE_KEYS
        self._keys = frozenset(keys - self.rules.allow_keys)
        self._suffixes = _SENSITIVE_SUFFIXES if self.rules.use_default_keys else ()
        named = dict(DEFAULT_PATTERNS) if self.rules.use_default_patterns else {}
        for index, pattern in enumerate(self.rules.extra_patterns):
            named[f"extra_{index}"] = pattern
        self._patterns: list[tuple[str, re.Pattern[str], Callable[[str, str], bool] | None]] = [
            (name, re.compile(pattern), _HINTS.get(name) if name in DEFAULT_PATTERNS else None)
            for name, pattern in named.items()
        ]
        self._min_len = _MIN_SECRET_LEN if not self.rules.extra_patterns else 1
        self._key_cache: dict[str, bool] = {}
        self._screen = self._build_screen()

    def _build_screen(self) -> _Screen | None:
        """The one RE2 pattern over a payload's JSON text (None: always walk)."""
        if self.rules.extra_patterns:
            return None  # a user's Python regex has no RE2 stand-in: walk every payload
        words = sorted(self._keys | {suffix.lstrip("_") for suffix in self._suffixes})
        if not all(
            word.isascii() and word.isprintable() and not {'"', "\\"} & set(word) for word in words
        ):
            return None  # JSON escapes or Unicode case rules could hide such a key from a screen
        # A key K (normalised) ends a raw key whose separators are -, _, space or a case
        # change, right before the key's closing quote and colon in compact JSON.
        keys = "|".join(
            "[-_ ]?".join(re2.escape(part) for part in word.split("_")) for word in words
        )
        parts = [_CASE_FOLDING_TRAPS]
        if keys:
            parts.append(f'(?i:{keys})":')
        if self.rules.use_default_patterns:
            parts.extend(_SCREENS.values())
        return _Screen("|".join(f"(?:{part})" for part in parts).encode())

    def screen(self, text: bytes) -> bool:
        """Whether the JSON text of a payload may hold something to redact.

        False means no rule can change the value that serialised to ``text`` (every rule's
        match shows in the JSON text, see ``_SCREENS``), so the value needs no walk.
        """
        return self._screen is None or self._screen.found(text)

    def _payload_clean(self, payload: dict[str, Any]) -> bool:
        """Whether nothing in ``payload`` (field name -> value) needs redacting, by the screen."""
        if self._screen is None:
            return False
        try:
            text = pydantic_core.to_json(payload, fallback=repr)
        except pydantic_core.PydanticSerializationError:
            return False  # an unpaired surrogate: the walk (and then the model) decides
        return not self._screen.found(text)

    # ----------------------------------------------------------------- keys
    def is_sensitive_key(self, key: str) -> bool:
        """Return whether values under ``key`` are redacted whatever they hold."""
        cached = self._key_cache.get(key)
        if cached is not None:
            return cached
        norm = _normalise_key(key)
        result = norm not in self.rules.allow_keys and (
            norm in self._keys or norm.endswith(self._suffixes)
        )
        if len(self._key_cache) < 4096:
            self._key_cache[key] = result
        return result

    # -------------------------------------------------------------- strings
    def redact_text(self, text: str) -> str:
        """Return ``text`` with every configured pattern replaced by the marker."""
        if len(text) < self._min_len or not self._patterns or text in self.rules.allow_values:
            return text
        active = self._active(text)
        if not active:
            return text
        marker = self.rules.replacement
        for _ in range(_MAX_PASSES):
            for name, pattern in active:
                if name == "card_number":
                    text = pattern.sub(_card_replacer(marker), text)
                else:
                    text = pattern.sub(marker, text)
            active = self._active(text)
            if not any(self._matches(name, pattern, text) for name, pattern in active):
                return text
        return marker  # a pattern kept re-forming: give up on the text, never leak it

    def _active(self, text: str) -> list[tuple[str, re.Pattern[str]]]:
        """The patterns whose cheap hint says they may match ``text``."""
        low = text.lower()
        return [(name, p) for name, p, hint in self._patterns if hint is None or hint(text, low)]

    @staticmethod
    def _matches(name: str, pattern: re.Pattern[str], text: str) -> bool:
        if name == "card_number":
            return any(_card_span(m.group()) for m in pattern.finditer(text))
        return pattern.search(text) is not None

    # ----------------------------------------------------------- structures
    def redact(self, data: T) -> T:
        """Return a redacted copy of ``data`` (the input is not modified).

        Mappings, lists, tuples and sets are walked recursively; pydantic models are dumped to
        dicts first. Values equal to the input are returned as the same object.
        """
        return self._walk(data)  # type: ignore[no-any-return]

    def _redact_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The changed values of ``payload`` (field name -> value), walked exactly."""
        changes: dict[str, Any] = {}
        for name, value in payload.items():
            if self.is_sensitive_key(name) and not isinstance(value, BaseModel):
                new = self._redact_whole(value)
            else:
                new = self._walk(value)
            if new is not value:
                changes[name] = new
        return changes

    @staticmethod
    def _payload(values: Iterable[tuple[str, Any]]) -> dict[str, Any]:
        return {
            name: value
            for name, value in values
            if name not in _STRUCTURAL_FIELDS and type(value) not in _NOT_REDACTED_TYPES
        }

    def redact_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Return the constructor fields of an event with every payload value redacted.

        What the loggers do before they build an event (so it is built, and validated, once):
        identity and linkage fields are left alone, the rest as in :meth:`redact_event`. JSON
        fields should be JSON-native already (:func:`~omniclaude.events.base.to_json_native`)
        so that what is redacted is what will be stored.

        Returns:
            ``fields`` itself when nothing needed redacting, else a new dict.
        """
        payload = self._payload(fields.items())
        if not payload or self._payload_clean(payload):
            return fields
        changes = self._redact_payload(payload)
        return {**fields, **changes} if changes else fields

    def redact_event(self, event: E) -> E:
        """Return ``event`` with every payload field redacted (the same object if clean).

        Identity and linkage fields (ids, timestamps, enums, the producer) are left alone;
        strings, JSON objects, lists, nested models and unknown extra fields are redacted.
        An event with something to redact is built again from its (redacted) field values.
        """
        values = dict(event.__dict__)
        if event.__pydantic_extra__:
            values.update(event.__pydantic_extra__)
        payload = self._payload(values.items())
        if not payload or self._payload_clean(payload):
            return event
        changes = self._redact_payload(payload)
        if not changes:
            return event
        values.update(changes)
        # The event's JSON fields are JSON-native, and so is what the walk made of them.
        return type(event).model_validate(values, context=JSON_NATIVE)

    def needs_walk(self, event: EventBase, data: bytes) -> bool:
        """Whether ``event``, encoded as ``data`` (:func:`~omniclaude.events.encode`), may
        hold something to redact: the screen over its payload's part of the bytes.

        The codec writes fields in the model's order and unknown fields last; the part
        screened starts at the first payload field's key (a key's quotes are never escaped,
        so its first occurrence is at or before the field itself): ids, times and the
        producer before it are not redacted and would only make the screen match in vain.
        """
        screen = self._screen
        if screen is None:
            return True
        key = _PAYLOAD_KEYS.get(type(event))
        if key is None:
            key = _first_payload_key(type(event))
        return screen.found(data, data.find(key) if key else 0)

    def _walk(self, value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, Mapping):
            return self._walk_mapping(value)
        if isinstance(value, list | tuple | set | frozenset):
            items = [self._walk(item) for item in value]
            if all(a is b for a, b in zip(items, value, strict=False)):
                return value
            return items if isinstance(value, list) else type(value)(items)
        if isinstance(value, int) and _CARD_MIN <= abs(value) < _CARD_MAX:
            return self.rules.replacement if luhn_valid(str(abs(value))) else value
        if isinstance(value, BaseModel):
            dumped = value.model_dump()
            walked = self._walk_mapping(dumped)
            return value if walked is dumped else walked
        return value

    def _walk_mapping(self, value: Mapping[Any, Any]) -> Any:
        out: dict[Any, Any] = {}
        changed = False
        for key, item in value.items():
            if isinstance(key, str) and self.is_sensitive_key(key):
                new = self._redact_whole(item)
            else:
                new = self._walk(item)
            # A secret can be a key too ({"dev@example.com": ...}): redact it, numbering
            # repeats so two redacted keys never overwrite each other's values.
            new_key = self.redact_text(key) if isinstance(key, str) else key
            if new_key != key:
                base, n = new_key, 1
                while new_key in out or new_key in value:
                    n += 1
                    new_key = f"{base}#{n}"
            changed = changed or new is not item or new_key != key
            out[new_key] = new
        return out if changed or not isinstance(value, dict) else value

    def _redact_whole(self, item: Any) -> Any:
        if item is None or isinstance(item, bool) or item == "":
            return item
        if isinstance(item, str) and item in self.rules.allow_values:
            return item
        return self.rules.replacement


class _Screen:
    """One RE2 pattern (linear time), asked only whether it occurs in some bytes.

    ``re2``'s ``search`` builds a match object through a Python-level wrapper; a yes/no only
    needs the compiled ``RE2`` object's ``Match`` (a third of the cost on a 500-byte payload).
    Without it (another ``google-re2`` layout) ``search`` is used.
    """

    __slots__ = ("_anchor", "_compiled", "_regexp", "pattern")

    def __init__(self, pattern: bytes) -> None:
        self.pattern = pattern
        self._compiled = re2.compile(pattern)
        self._regexp = getattr(self._compiled, "_regexp", None)
        self._anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
        if self._regexp is None or self._anchor is None or not hasattr(self._regexp, "Match"):
            self._regexp = None

    def found(self, text: bytes, start: int = 0) -> bool:
        """Whether the pattern occurs in ``text`` (from ``start`` on; negative: from 0)."""
        start = max(start, 0)
        regexp = self._regexp
        if regexp is None:
            return self._compiled.search(text, start) is not None
        spans: list[tuple[int, int]] = regexp.Match(self._anchor, text, start, len(text))
        return spans[0][0] >= 0


_PAYLOAD_KEYS: Final[dict[type[BaseModel], bytes]] = {}


def _first_payload_key(model: type[BaseModel]) -> bytes:
    """``b'"name":'`` of the first field of ``model`` that is redacted (b"" if none)."""
    key = _PAYLOAD_KEYS.get(model)
    if key is None:
        first = next((n for n in model.model_fields if n not in _STRUCTURAL_FIELDS), None)
        key = b"" if first is None else b'"' + first.encode() + b'":'
        _PAYLOAD_KEYS[model] = key
    return key


_DIGIT_GROUP: Final = re.compile(r"\d+")


def _card_span(candidate: str) -> tuple[int, int] | None:
    """Find a Luhn-valid card number within a run of digit groups (longest first).

    ``"4111 1111 1111 1111 3"`` holds a card even though the whole run fails the check; a
    window always starts and ends on a group boundary, so an unbroken digit run (an order
    number, a timestamp) is only ever judged whole.
    """
    groups = [(m.start(), m.end()) for m in _DIGIT_GROUP.finditer(candidate)]
    for i in range(len(groups)):
        for j in range(len(groups) - 1, i - 1, -1):
            start, end = groups[i][0], groups[j][1]
            window = candidate[start:end]
            digits = sum(c.isdigit() for c in window)
            if digits < 13:
                break
            if digits <= 19 and luhn_valid(window):
                return start, end
    return None


def _card_replacer(marker: str) -> Any:
    def replace(match: re.Match[str]) -> str:
        text = match.group()
        out = []
        while (span := _card_span(text)) is not None:
            out.append(text[: span[0]] + marker)
            text = text[span[1] :]
        return "".join(out) + text

    return replace


@lru_cache(maxsize=1)
def default_redactor() -> Redactor:
    """Return the shared redactor with the default rules."""
    return Redactor()


def sanitize_pii(data: T, rules: RedactionRules | None = None) -> T:
    """Return a copy of ``data`` with PII and secrets replaced by ``"***REDACTED***"``.

    Args:
        data: any JSON-like value: dicts, lists, strings, numbers (nested at any depth).
        rules: the rules to apply; None means the defaults.

    Returns:
        The redacted copy; the input is not modified.

    Example:
        >>> sanitize_pii({"email": "user@example.com", "password": "secret123"})
        {'email': '***REDACTED***', 'password': '***REDACTED***'}
    """
    redactor = default_redactor() if rules is None else Redactor(rules)
    return redactor.redact(data)
