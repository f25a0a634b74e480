"""The small sample project the demo's agents work on (written once, never overwritten)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["SAMPLE_FILES", "write_sample_project"]

SAMPLE_FILES: dict[str, str] = {
    "README.md": (
        "# shop\n\nA tiny web shop back end used by the OmniClaude demo.\n\n"
        "Run the tests with `pytest`.\n"
    ),
    "CHANGELOG.md": (
        "# Changelog\n\n## 2.4.1\n\n- Fix rounding of cart totals with discounts\n"
        "- Retry card payments once on gateway timeouts\n- Log every refund with its reason\n"
    ),
    "requirements.txt": "fastapi==0.115.0\nhttpx==0.27.2\npydantic==2.9.2\nstripe==10.12.0\n",
    "shop/__init__.py": '"""The shop back end."""\n',
    "shop/cart.py": (
        '"""Shopping carts."""\n\nfrom decimal import Decimal\n\n\n'
        "class Cart:\n"
        '    """Items a customer is about to buy."""\n\n'
        "    def __init__(self) -> None:\n"
        "        self.items: dict[str, tuple[Decimal, int]] = {}\n\n"
        "    def add(self, sku: str, price: Decimal, quantity: int = 1) -> None:\n"
        "        old = self.items.get(sku, (price, 0))[1]\n"
        "        self.items[sku] = (price, old + quantity)\n\n"
        "    def total(self, discount: Decimal = Decimal(0)) -> Decimal:\n"
        "        # TODO: apply discounts per item, not on the total\n"
        "        gross = sum(p * q for p, q in self.items.values())\n"
        "        return (gross * (1 - discount)).quantize(Decimal('0.01'))\n"
    ),
    "shop/payment.py": (
        '"""Card payments through the gateway."""\n\nimport httpx\n\n'
        "from shop.settings import GATEWAY_URL\n\n\n"
        "def charge(amount_cents: int, token: str) -> str:\n"
        '    """Charge a card token; return the payment id."""\n'
        "    # TODO: idempotency key, so a retried charge is not taken twice\n"
        "    response = httpx.post(f'{GATEWAY_URL}/charges', json={'amount': amount_cents, "
        "'token': token}, timeout=10)\n"
        "    response.raise_for_status()\n    return str(response.json()['id'])\n\n\n"
        "def refund(payment_id: str, reason: str) -> None:\n"
        '    """Refund a payment."""\n'
        "    # FIXME: log the reason\n"
        "    httpx.post(f'{GATEWAY_URL}/refunds', json={'payment': payment_id}, timeout=10)\n"
    ),
    "shop/settings.py": (
        '"""Settings (the key below is a fake, for the secrets scanner to find)."""\n\n'
        "GATEWAY_URL = 'https://payments.example.com/v1'\n"
        "GATEWAY_API_KEY = 'sk_live_" + "51Hd3mo0nLyFakeKey4Tests9x'\n"
    ),
    "tests/test_cart.py": (
        "from decimal import Decimal\n\nfrom shop.cart import Cart\n\n\n"
        "def test_total_adds_items() -> None:\n    cart = Cart()\n"
        "    cart.add('apple', Decimal('0.50'), 4)\n"
        "    assert cart.total() == Decimal('2.00')\n\n\n"
        "def test_discount_applies_to_total() -> None:\n    cart = Cart()\n"
        "    cart.add('pear', Decimal('10.00'))\n"
        "    assert cart.total(Decimal('0.1')) == Decimal('9.00')\n"
    ),
    "docs/payments.md": "# Payments\n\nCharges go through the gateway; refunds need a reason.\n",
}
"""Relative path → content of every file of the sample project."""


def write_sample_project(root: Path) -> Path:
    """Write the sample project under ``root`` (files that exist are left alone).

    Returns:
        ``root``.
    """
    for relative, content in SAMPLE_FILES.items():
        path = root / relative
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    return root
