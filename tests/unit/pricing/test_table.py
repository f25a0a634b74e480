"""The price table: shipped as data, overridable, never guessing an unknown model."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from omniclaude.pricing import (
    PricingError,
    default_price_table,
    load_price_table,
    normalize_model,
)


def test_the_shipped_table_names_its_source_and_date() -> None:
    """Every priced call says which table (source URL and the date it was checked)."""
    price = default_price_table().lookup("claude-opus-4-5-20251101")
    assert price is not None
    assert "platform.claude.com" in price.source
    assert "2026-" in price.source


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("anthropic/claude-haiku-4-5", "claude-haiku-4-5"),
        ("claude-opus-4-6[1m]", "claude-opus-4-6"),
        ("claude-3-5-haiku@20241022", "claude-3-5-haiku"),
    ],
)
def test_model_ids_in_every_form_find_their_price(model: str, key: str) -> None:
    """Provider prefixes, context suffixes, versions and dates are not part of the key."""
    assert normalize_model(model) == key
    price = default_price_table().lookup(model)
    assert price is not None
    assert price.key == key


def test_cost_is_tokens_times_rates_per_million() -> None:
    """Input, output, 5-minute and 1-hour cache writes and cache reads, each at its rate."""
    cost = default_price_table().cost(
        "claude-haiku-4-5", input_tokens=1_000_000, output_tokens=2_000_000,
        cache_write_5m_tokens=1_000_000, cache_write_1h_tokens=1_000_000,
        cache_read_tokens=10_000_000,
    )  # fmt: skip
    assert cost is not None
    assert cost.usd == Decimal("1") + Decimal("10") + Decimal("1.25") + Decimal("2") + Decimal("1")


def test_a_long_prompt_pays_the_long_context_rates() -> None:
    """Sonnet 4.5 above 200K input tokens (cache included): every token at the higher rate."""
    table = default_price_table()
    short = table.cost("claude-sonnet-4-5", input_tokens=100_000, cache_read_tokens=100_000)
    long = table.cost("claude-sonnet-4-5", input_tokens=100_001, cache_read_tokens=100_000)
    assert short is not None
    assert long is not None
    assert short.usd == Decimal("0.33")
    assert long.usd == Decimal("0.600006") + Decimal("0.06")


def test_an_unknown_model_is_unpriced_never_guessed() -> None:
    """A model in no table has no cost (None), whatever it resembles."""
    table = default_price_table()
    assert table.cost("claude-sonnet-9", input_tokens=10) is None
    assert table.cost("<synthetic>", input_tokens=10) is None
    assert table.cost(None, input_tokens=10) is None


def test_the_users_file_adds_and_overrides(tmp_path: Path) -> None:
    """A user file prices a new model and replaces a shipped one; the rest stays."""
    path = tmp_path / "pricing.toml"
    path.write_text(
        'source = "our contract"\nchecked = "2026-11-30"\n'
        '[models."claude-opus-5-5"]\ninput = 4\noutput = 20\ncache_write_5m = 5\n'
        "cache_write_1h = 8\ncache_read = 0.2\n"
        '[models."claude-haiku-4-5"]\ninput = 0.5\noutput = 2.5\ncache_write_5m = 0.6\n'
        "cache_write_1h = 1\ncache_read = 0.05\n"
    )
    table = load_price_table(path)
    new = table.cost("claude-opus-5-5-20260901", output_tokens=1_000_000)
    assert new is not None
    assert new.usd == Decimal(20)
    assert "our contract" in new.source
    haiku = table.cost("claude-haiku-4-5", input_tokens=1_000_000)
    assert haiku is not None
    assert haiku.usd == Decimal("0.5")
    assert table.lookup("claude-opus-4-5") == default_price_table().lookup("claude-opus-4-5")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[models.x]\ninput = 1\n", "models.x: missing output"),
        (('[models.x]\ninput = "a"\noutput = 1\ncache_write_5m = 1\ncache_write_1h = 1\n'
         "cache_read = 1\n"), "models.x.input"),
        (("[models.x]\ninput = -1\noutput = 1\ncache_write_5m = 1\ncache_write_1h = 1\n"
         "cache_read = 1\n"), "models.x.input"),
        ("source = 1\n", "models:"),
        ("not toml [", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_user_file_is_refused_naming_the_field(tmp_path: Path, text: str, field: str) -> None:
    """Bad input gets a clear error naming the file and the field."""
    path = tmp_path / "pricing.toml"
    path.write_text(text)
    with pytest.raises(PricingError) as caught:
        load_price_table(path)
    assert field in str(caught.value)
    assert str(path) in str(caught.value)
