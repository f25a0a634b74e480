"""Bad query input is the caller's fault: every parameter of every endpoint (the API's and
the viewer's), against the real database, answers a 4xx naming the parameter, never a 5xx
(503 is for outages only)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from tests.fixtures.parameters import targets

pytestmark = pytest.mark.covers(
    "endpoint:GET /executions",
    "endpoint:GET /executions/{correlation_id}",
    "endpoint:GET /traces/{correlation_id}",
    "feature:query-parameter-validation",
)


def _message(response: httpx.Response) -> str:
    """What an error answer says: the API's JSON message, or the viewer's error page."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return str(response.json().get("message", ""))
    return response.text


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# What a careless or hostile caller sends: values the database cannot compare or store, times
# at and past the ends of the stored range (asyncpg writes datetime.min/max as ±infinity),
# forged cursors, numbers Python cannot convert, and text in odd encodings.
BAD_VALUES: tuple[str, ...] = (
    "\x00",
    "a\x00b",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59.999999-14:00",
    "10000-01-01",
    _cursor(f"0001-01-01T00:00:00+05:00|{uuid.uuid4()}"),
    _cursor(f"9999-12-31T23:59:59.999999-05:00|{uuid.uuid4()}"),
    _cursor("2026-01-01T00:00:00|not-a-uuid"),
    "9" * 5000,
    "\u00b2",
    "-1",
    "NaN",
    "Infinity",
    "x" * 20_000,
    "\udcff".encode("utf-8", "surrogatepass").decode("latin-1"),
)


async def test_query_parameters_are_caller_errors(
    client: tuple[httpx.AsyncClient, dict[str, str]], db_pool: Any
) -> None:
    """Every bad value in every GET parameter: never a 5xx, and when it is refused it is a
    4xx whose message names that parameter."""
    http, headers = client
    from omniclaude.api import create_app
    from omniclaude.settings import Settings

    found = targets(create_app(Settings()))
    assert len(found) >= 30, f"only {len(found)} parameters found"
    server_errors: list[str] = []
    unnamed: list[str] = []
    for target in found:
        for value in BAD_VALUES:
            url, params = target.request(value)
            response = await http.get(url, params=params, headers=headers)
            where = f"GET {url} {target.name}={value[:40]!r}"
            if response.status_code >= 500:
                server_errors.append(f"{where}: {response.status_code} {response.text[:200]}")
            elif response.status_code == 422 and target.where == "query":
                message = _message(response)
                if target.name not in message:
                    unnamed.append(f"{where}: {message[:120]}")
    assert not server_errors, f"{len(server_errors)} server errors: {server_errors[:6]}"
    assert not unnamed, f"422s that do not name the parameter: {unnamed[:6]}"


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/executions", {"until": "0001-01-01T00:00:00Z"}, "query.until"),
        ("/executions", {"since": "9999-12-31T23:59:59.999999Z"}, "query.since"),
        ("/executions", {"since": "0001-01-01T00:00:00+14:00"}, "query.since"),
        ("/executions", {"q": "a\x00b"}, "query.q"),
        ("/executions", {"cursor": _cursor(f"0001-01-01T00:00:00+05:00|{uuid.uuid4()}")},
         "query.cursor"),
        ("/viewer/", {"q": "a\x00b"}, "query.q"),
        ("/viewer/", {"agent": "\x00"}, "query.agent"),
        ("/viewer/", {"since": "0001-01-01T00:00:00+14:00"}, "query.since"),
        ("/viewer/", {"until": "0001-01-01T00:00:00Z"}, "query.until"),
        ("/viewer/",
         {"cursor": _cursor(f"9999-12-31T23:59:59-05:00|{uuid.uuid4()}")}, "query.cursor"),
        ("/viewer/overview", {"until": "9999-12-31T23:59:59.999999Z"}, "query.until"),
    ],
)  # fmt: skip
async def test_the_issues_examples_are_422_naming_the_parameter(
    client: tuple[httpx.AsyncClient, dict[str, str]], url: str, params: dict[str, str], field: str
) -> None:
    """The reported cases (a year-1 until, a NUL in the viewer's q, a forged cursor, an
    out-of-range since) are 422s naming the parameter, not 500 or 503."""
    http, headers = client
    response = await http.get(url, params=params, headers=headers)
    assert response.status_code == 422, f"{url} {params}: {response.status_code} {response.text}"
    assert f"{field}:" in _message(response), _message(response)
