"""What an LLM call cost: a price table shipped as data, overridable by the user's own file.

The shipped table (``anthropic.toml`` beside this module) gives, per model, USD per million
tokens for input, output, cache writes (5-minute and 1-hour) and cache reads, with its source
and the date it was checked written in the file. A user file in the same format (named by
``OMNICLAUDE_PRICING_FILE``) adds models or replaces the shipped figures of a model. A model in
neither is *unpriced*: :meth:`PriceTable.cost` returns None and the call is stored without a
cost — never a guess.

Example:
    >>> table = load_price_table()
    >>> table.cost("claude-sonnet-4-5-20250929", input_tokens=1000, output_tokens=200).usd
    Decimal('0.006')
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from omniclaude.errors import ConfigurationError

__all__ = [
    "Cost",
    "ModelPrice",
    "PriceTable",
    "PricingError",
    "Rates",
    "default_price_table",
    "load_price_table",
    "normalize_model",
    "parse_price_table",
]

_MTOK: Final = Decimal(1_000_000)
_RATE_FIELDS: Final = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
_PREFIX = re.compile(r"^(?:[a-z]{2,4}\.)?anthropic[./]")
_DATE = re.compile(r"[-@]\d{8}$")
_BRACKETS = re.compile(r"\[[^\]]*\]$")
_BEDROCK_VERSION = re.compile(r"-v\d+(?::\d+)?$")


class PricingError(ConfigurationError):
    """A price table is not valid; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens of each kind."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """The rates of one model, and where they come from."""

    key: str
    name: str
    rates: Rates
    source: str
    long_context: tuple[int, Rates] | None = None
    """``(above_input_tokens, rates)``: a longer prompt pays these rates on every token."""

    def rates_for(self, prompt_tokens: int) -> Rates:
        """The rates a request with ``prompt_tokens`` of input (cache included) pays."""
        if self.long_context is not None and prompt_tokens > self.long_context[0]:
            return self.long_context[1]
        return self.rates


@dataclass(frozen=True, slots=True)
class Cost:
    """What one call cost and which table said so."""

    usd: Decimal
    model: ModelPrice

    @property
    def source(self) -> str:
        """The table the figures came from (``pricing_source`` of the call)."""
        return self.model.source


def normalize_model(model: str) -> str:
    """The table key of a model id: no provider prefix, ``[1m]`` suffix, version or date.

    ``us.anthropic.claude-sonnet-4-5-20250929-v1:0`` → ``claude-sonnet-4-5``.
    """
    text = model.strip().lower()
    text = _BRACKETS.sub("", text)
    text = _PREFIX.sub("", text)
    text = _BEDROCK_VERSION.sub("", text)
    return _DATE.sub("", text)


class PriceTable:
    """Model prices by normalised id (and aliases)."""

    def __init__(self, models: dict[str, ModelPrice]) -> None:
        """Index ``models`` (key → price) and their aliases."""
        self._models = dict(models)

    def __len__(self) -> int:
        return len({id(p) for p in self._models.values()})

    def lookup(self, model: str | None) -> ModelPrice | None:
        """The price of ``model`` (any id form), or None when it is not in the table."""
        if not model:
            return None
        return self._models.get(normalize_model(model))

    def cost(
        self,
        model: str | None,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_write_5m_tokens: int = 0,
        cache_write_1h_tokens: int = 0,
        cache_read_tokens: int = 0,
    ) -> Cost | None:
        """What a call of ``model`` with these tokens cost (None: the model is unpriced)."""
        price = self.lookup(model)
        if price is None:
            return None
        prompt = input_tokens + cache_write_5m_tokens + cache_write_1h_tokens + cache_read_tokens
        rates = price.rates_for(prompt)
        total = (
            input_tokens * rates.input
            + output_tokens * rates.output
            + cache_write_5m_tokens * rates.cache_write_5m
            + cache_write_1h_tokens * rates.cache_write_1h
            + cache_read_tokens * rates.cache_read
        ) / _MTOK
        return Cost(total, price)

    def merged(self, other: PriceTable) -> PriceTable:
        """This table with ``other``'s models added or replacing these (the user's file wins)."""
        return PriceTable({**self._models, **other._models})


def _rate(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PricingError(f"{where}: expected a number of USD per million tokens")
    try:
        rate = Decimal(str(value))
    except InvalidOperation as exc:
        raise PricingError(f"{where}: {value!r} is not a number") from exc
    if not rate.is_finite() or rate < 0:
        raise PricingError(f"{where}: {value!r} is not a price (a finite number >= 0)")
    return rate


def _rates(entry: dict[str, Any], where: str) -> Rates:
    missing = [f for f in _RATE_FIELDS if f not in entry]
    if missing:
        raise PricingError(f"{where}: missing {', '.join(missing)} (every rate is required)")
    return Rates(*(_rate(entry[f], f"{where}.{f}") for f in _RATE_FIELDS))


def parse_price_table(data: dict[str, Any], *, origin: str) -> PriceTable:
    """Build a table from a parsed TOML document (``source``, ``checked``, ``[models.*]``).

    Args:
        data: the document.
        origin: where it came from, for error messages and ``pricing_source``.

    Raises:
        PricingError: a field is missing or not a price (the message names it).
    """
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise PricingError(f'{origin}: models: expected [models."<model id>"] tables')
    label = " ".join(str(data[k]) for k in ("source", "checked") if data.get(k)) or origin
    out: dict[str, ModelPrice] = {}
    for key, entry in models.items():
        where = f"{origin}: models.{key}"
        if not isinstance(entry, dict):
            raise PricingError(f"{where}: expected a table of rates")
        long_context = None
        if isinstance(entry.get("long_context"), dict):
            tier = entry["long_context"]
            above = tier.get("above_input_tokens")
            if isinstance(above, bool) or not isinstance(above, int) or above <= 0:
                raise PricingError(f"{where}.long_context.above_input_tokens: a token count > 0")
            long_context = (above, _rates(tier, f"{where}.long_context"))
        price = ModelPrice(
            key=normalize_model(key), name=str(entry.get("name") or key),
            rates=_rates(entry, where), source=f"{label} ({origin})" if label != origin else label,
            long_context=long_context,
        )  # fmt: skip
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise PricingError(f"{where}.aliases: expected a list of model ids")
        for name in (key, *aliases):
            out[normalize_model(name)] = price
    return PriceTable(out)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PricingError(f"{path}: cannot read the price table: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PricingError(f"{path}: not valid TOML: {exc}") from exc


@lru_cache(maxsize=1)
def default_price_table() -> PriceTable:
    """The table shipped with OmniClaude (package data ``anthropic.toml``)."""
    text = resources.files(__package__).joinpath("anthropic.toml").read_text(encoding="utf-8")
    return parse_price_table(tomllib.loads(text), origin="omniclaude")


def load_price_table(user_file: Path | None = None) -> PriceTable:
    """The shipped table, with the user's file (when given) added on top.

    Raises:
        PricingError: the user's file cannot be read or is not a valid table.
    """
    table = default_price_table()
    if user_file is None:
        return table
    return table.merged(parse_price_table(_read(Path(user_file)), origin=str(user_file)))
