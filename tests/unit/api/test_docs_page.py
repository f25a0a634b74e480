"""The API documentation pages load nothing from outside the server (issue 12, item 10)."""

from __future__ import annotations

import re

from tests.unit.api.conftest import Api

_HOST = re.compile(r"(?i)\b(?:https?:)?//[a-z0-9.-]+")
_REFERENCE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""")


async def test_docs_page_loads_nothing_external(api: Api) -> None:
    """Every script, style and icon the page references is a path on this server that
    answers 200, no URL in the page names another host, and no validator badge is asked."""
    page = "/docs"
    response = await api.client.get(page)
    assert response.status_code == 200, f"{page}: {response.status_code}"
    html = response.text
    hosts = _HOST.findall(html)
    assert not hosts, f"{page} names other hosts: {hosts}"
    references = _REFERENCE.findall(html)
    assert any(r.endswith(".js") for r in references), f"{page} loads no script: {references}"
    for reference in references:
        assert reference.startswith("/"), f"{page} references {reference!r}"
        asset = await api.client.get(reference)
        assert asset.status_code == 200, f"{page}: {reference} answered {asset.status_code}"
    assert '"validatorUrl": null' in html, "Swagger UI would fetch a validator badge"


async def test_redoc_is_off(api: Api) -> None:
    """/redoc is not served: ReDoc fetches its logo from its vendor's CDN whatever it gets."""
    assert (await api.client.get("/redoc")).status_code == 404
