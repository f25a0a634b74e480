"""The trace viewer in a real headless Chromium, on a real stack with the demo's traces.

The stack is started with ``omniclaude up --detach`` and filled with ``omniclaude demo``;
Chromium (Debian's, installed by the session fixture when missing) is driven by Playwright
through ``executable_path``. Screenshots go to ``test-output/``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from omniclaude.stack.keys import read_viewer_key
from tests.system.test_up_down import PORT_OPTIONS, omniclaude, private_data_dir

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
FAKE_TOKEN = "sk-demo-7f3a9c2e4b1d8f6a0c5e9b2d4f7a1c3e"


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed with apt-get when it is missing (never skipped)."""
    if not CHROMIUM.exists():
        install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        if subprocess.run(install, capture_output=True, check=False, timeout=900).returncode:
            subprocess.run(["apt-get", "update"], capture_output=True, check=False, timeout=600)
            subprocess.run(install, capture_output=True, check=False, timeout=900)
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing and `apt-get install -y chromium` failed"
    return CHROMIUM


@dataclass(frozen=True)
class DemoStack:
    """A running stack filled by the demo."""

    data_dir: Path
    database_url: str
    viewer_url: str
    key: str
    traces: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def demo_stack() -> Iterator[DemoStack]:
    """`omniclaude up --detach` + `omniclaude demo`, stopped with `omniclaude down` after."""
    with private_data_dir() as data_dir:
        started = omniclaude("up", "--detach", "--data-dir", str(data_dir), *PORT_OPTIONS)
        assert started.returncode == 0, started.stdout + started.stderr
        status = json.loads(omniclaude("status", "--json", "--data-dir", str(data_dir)).stdout)
        demo = omniclaude("demo", "--json", "--data-dir", str(data_dir), timeout=180)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        traces = {t["title"]: t for t in json.loads(demo.stdout)["traces"]}
        key = read_viewer_key(data_dir)
        assert key is not None, "up did not save a viewer key"
        yield DemoStack(
            data_dir=data_dir,
            database_url=status["database_url"],
            viewer_url=status["viewer_url"],
            key=key,
            traces=traces,
        )


def run_db(database_url: str, work: Any) -> Any:
    """Run ``work(conn)`` on a connection of its own, in another thread (Playwright's sync
    API runs an event loop in this one)."""
    from omniclaude.storage.pool import connect

    async def main() -> Any:
        conn = await connect(database_url)
        try:
            return await work(conn)
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result(timeout=60)


def action_ids_in_db(database_url: str, root: str) -> set[str]:
    """Event ids of every action of the trace ``root`` and its descendants, from the DB."""

    async def read(conn: Any) -> set[str]:
        rows = await conn.fetch(
            """
            WITH RECURSIVE tree(id) AS (
                SELECT $1::uuid
                UNION SELECT l.correlation_id FROM agent_execution_logs l
                             JOIN tree t ON l.parent_correlation_id = t.id)
            SELECT event_id FROM agent_actions WHERE correlation_id IN (SELECT id FROM tree)
            """,
            uuid.UUID(root),
        )
        return {str(row["event_id"]) for row in rows}

    result: set[str] = run_db(database_url, read)
    return result


@pytest.fixture
def browser(chromium: Path) -> Iterator[Any]:
    """A headless Chromium (one browser session: its tabs share cookies)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched.new_context(viewport={"width": 1440, "height": 1000})
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Any:
    """A fresh tab (1440x1000)."""
    return browser.new_page()


def open_with_key(page: Any, url: str, key: str) -> None:
    """Open ``url``; the viewer answers its login form in place: give it the key."""
    page.goto(url)
    page.wait_for_selector("#key-form")
    page.fill("#key-input", key)
    page.click("#key-form button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.parametrize("title", ["Parallel review", "Flaky service, recovered"])
def test_the_waterfall_shows_every_action_of_a_demo_trace(
    demo_stack: DemoStack, page: Any, title: str
) -> None:
    """Each action row of the trace in the database is a row of the waterfall, and no more."""
    trace = demo_stack.traces[title]
    expected = action_ids_in_db(demo_stack.database_url, trace["correlation_id"])
    assert expected, f"the demo trace {title!r} has no action in the database"
    open_with_key(page, trace["url"], demo_stack.key)
    page.wait_for_selector(".wf-row[data-source=action]")
    shown = page.eval_on_selector_all(
        ".wf-row[data-source=action]", "rows => rows.map(r => r.dataset.eventId)"
    )
    assert len(shown) == len(set(shown)), "an action is shown twice"
    missing, extra = expected - set(shown), set(shown) - expected
    assert not missing, f"actions of the trace missing from the waterfall: {missing}"
    assert not extra, f"waterfall rows that are not actions of the trace: {extra}"
    assert page.locator(".wf-row.src-execution").count() >= 1
    assert page.locator(".card.routing").count() >= 1, "the routing decision is not shown"
    OUTPUT.mkdir(exist_ok=True)
    name = title.lower().replace(",", "").replace(" ", "-")
    page.screenshot(path=str(OUTPUT / f"viewer-trace-{name}.png"), full_page=True)


def test_clicking_an_action_shows_its_details_redacted(demo_stack: DemoStack, page: Any) -> None:
    """The fetch_status call carried a bearer token: the panel shows it redacted."""
    trace = demo_stack.traces["Flaky service, recovered"]
    open_with_key(page, trace["url"], demo_stack.key)
    errors = page.locator(".wf-row.is-error[data-source=action]")
    errors.first.wait_for()
    assert errors.count() == 2, "the two failed attempts are not both shown as errors"
    page.locator(
        ".wf-row[data-source=action][data-kind=tool_call]", has_text="fetch_status"
    ).click()
    page.wait_for_selector("#detail .detail")
    detail = page.inner_text("#detail")
    assert "fetch_status" in detail
    assert "***REDACTED***" in detail
    assert FAKE_TOKEN not in page.content(), "the bearer token reached the page"
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "viewer-trace-detail.png"), full_page=True)


def test_the_list_and_overview_show_the_demo(demo_stack: DemoStack, page: Any) -> None:
    """The executions list filters by status; the overview draws its panels."""
    open_with_key(page, demo_stack.viewer_url, demo_stack.key)
    page.wait_for_selector("table.executions tbody tr.row")
    assert page.locator("tr.row").count() >= len(demo_stack.traces)
    page.select_option("select[name=status]", "failed")
    page.wait_for_function("() => location.search.includes('status=failed')")
    only_failed = (
        "rows => rows.length > 0 && rows.every(r => r.classList.contains('status-failed'))"
    )
    page.wait_for_function(f"() => ({only_failed})([...document.querySelectorAll('tr.row')])")
    failed = demo_stack.traces["Flaky service, gave up"]["correlation_id"]
    assert page.locator(f"a[href='/viewer/traces/{failed}']").count() == 1
    page.goto(demo_stack.viewer_url.rstrip("/") + "/overview")
    page.wait_for_selector(".stats .stat")
    assert page.locator(".chart").count() == 2
    assert "code-analyzer" in page.inner_text(".overview")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "viewer-overview.png"), full_page=True)


def test_a_wrong_key_is_asked_for_again(demo_stack: DemoStack, page: Any) -> None:
    """An unknown key is refused with a message and the form comes back."""
    open_with_key(page, demo_stack.viewer_url, "oc_000000000000_" + "x" * 43)
    page.wait_for_selector("#key-error")
    assert "revoked" in page.inner_text("#key-error") or "invalid" in page.inner_text("#key-error")
    assert page.locator("#key-form").count() == 1


def test_a_second_tab_opens_a_trace_without_asking_for_the_key(
    demo_stack: DemoStack, browser: Any
) -> None:
    """The key is given once, in one tab; a second tab of the browser opens a trace by its
    short id with no key asked; no script of the page can read the session."""
    first = browser.new_page()
    open_with_key(first, demo_stack.viewer_url, demo_stack.key)
    first.wait_for_selector("table.executions")
    trace = demo_stack.traces["Parallel review"]
    second = browser.new_page()
    second.goto(trace["url"].rsplit("/", 1)[0] + "/" + trace["correlation_id"][:8])
    second.wait_for_selector(".wf-row[data-source=action]")
    assert second.locator("#key-form").count() == 0, "the second tab asked for the key"
    assert demo_stack.key not in second.content()
    assert second.evaluate("() => document.cookie") == "", "a script can read the session"
    assert demo_stack.key not in second.url


PAGES = ("/", "/overview", "/traces/{trace}", "/traces/not-an-id", "/?status=done")


def test_every_page_fits_a_phone_screen(demo_stack: DemoStack, browser: Any) -> None:
    """At 390 px wide (a phone) no page scrolls sideways: the list, the overview, a trace
    with its detail open, and the viewer's own error pages."""
    page = browser.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    open_with_key(page, demo_stack.viewer_url, demo_stack.key)
    trace = demo_stack.traces["Flaky service, recovered"]["correlation_id"]
    base = demo_stack.viewer_url.rstrip("/")
    OUTPUT.mkdir(exist_ok=True)
    wider = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    for path in PAGES:
        page.goto(base + path.format(trace=trace))
        page.wait_for_load_state("networkidle")
        if "{trace}" in path:
            page.locator(".wf-row[data-source=action]").first.click()
            page.wait_for_selector("#detail .detail")
        overflow = page.evaluate(wider)
        name = path.strip("/").replace("/", "-").replace("?", "-").replace("{trace}", "trace")
        page.screenshot(path=str(OUTPUT / f"viewer-phone-{name or 'list'}.png"), full_page=True)
        assert overflow <= 0, f"{path} is {overflow}px wider than a 390px screen"


def test_a_malformed_id_shows_a_viewer_page(demo_stack: DemoStack, page: Any) -> None:
    """A bad id in a viewer URL: a page of the viewer naming the problem, never raw JSON."""
    open_with_key(page, demo_stack.viewer_url, demo_stack.key)
    response = page.goto(demo_stack.viewer_url.rstrip("/") + "/traces/zz-not-an-id")
    assert response is not None
    assert response.status == 422
    assert page.locator("header.top").count() == 1, "not a page of the viewer"
    assert "correlation_id" in page.inner_text(".error-page")
    assert not page.inner_text("body").lstrip().startswith("{"), "raw JSON shown"


def test_a_running_trace_shows_new_actions_without_a_reload(
    demo_stack: DemoStack, page: Any
) -> None:
    """A trace still running: an action stored while the page is open appears in its
    waterfall, and the page was not reloaded."""
    from omniclaude.events import ActionType, AgentAction, ExecutionStarted
    from omniclaude.storage.writers import write_events

    cid = uuid.uuid4()

    async def start(conn: Any) -> None:
        await write_events(conn, [ExecutionStarted(correlation_id=cid, agent_name="live-agent",
                                                   user_prompt="watch me")])  # fmt: skip

    run_db(demo_stack.database_url, start)
    open_with_key(page, demo_stack.viewer_url.rstrip("/") + f"/traces/{cid}", demo_stack.key)
    page.wait_for_selector(".trace[data-live='1']")
    page.evaluate("() => { window.__sameDocument = true; }")
    action = AgentAction(correlation_id=cid, action_type=ActionType.TOOL_CALL,
                         action_name="late_grep", agent_name="live-agent")  # fmt: skip

    async def act(conn: Any) -> None:
        await write_events(conn, [action])

    run_db(demo_stack.database_url, act)
    page.wait_for_selector(f".wf-row[data-event-id='{action.event_id}']", timeout=20_000)
    assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"


def test_docs_page_loads_nothing_external_in_a_browser(demo_stack: DemoStack, page: Any) -> None:
    """In Chromium, the API documentation renders and every request it makes goes to the
    server itself (no CDN script, font or validator badge)."""
    from urllib.parse import urlsplit

    origin = "{0.scheme}://{0.netloc}".format(urlsplit(demo_stack.viewer_url))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(origin + "/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    page.wait_for_load_state("networkidle")
    local = (origin, "data:", f"blob:{origin}")
    outside = [u for u in requested if not u.startswith(local)]
    assert not outside, f"/docs loaded from outside the server: {outside}"
    assert any(u.endswith(".js") for u in requested), f"no script was loaded: {requested}"


def _wait_for_llm_calls(database_url: str, root: str, expected: int) -> None:
    """Wait (bounded) until the session's LLM calls are all stored (the consumer runs apart)."""
    import time

    from omniclaude.storage.pool import connect

    async def count() -> int:
        conn = await connect(database_url)
        try:
            value = await conn.fetchval(
                "SELECT count(*) FROM agent_llm_calls c JOIN agent_execution_logs l"
                " USING (correlation_id) WHERE l.session_id = (SELECT session_id FROM"
                " agent_execution_logs WHERE correlation_id = $1)", uuid.UUID(root),
            )  # fmt: skip
        finally:
            await conn.close()
        return int(value or 0)

    deadline = time.monotonic() + 90
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        while (found := pool.submit(asyncio.run, count()).result(timeout=60)) < expected:
            assert time.monotonic() < deadline, f"{found} of {expected} LLM calls stored"
            time.sleep(0.5)


def _costed_session_imported(stack: DemoStack, root: Path) -> tuple[str, int]:
    """Write the documented costed session's transcripts and import them into the stack."""
    from omniclaude.hooks.sessions import session_correlation_id
    from tests.system.test_up_down import cli_env
    from tests.unit.hooks.costed_session import build, hand_count, play

    session = build(root)
    clock = iter(range(1_795_000_000 * 10**9, 1_796_000_000 * 10**9, 60_000_000))

    async def nothing(_: Any = None) -> None:
        return None

    async def write() -> None:
        await play(session, nothing, lambda: next(clock), nothing)

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, write()).result(timeout=60)
    env = cli_env(OMNICLAUDE_DATA_DIR=str(stack.data_dir))
    done = omniclaude("import-transcript", str(root), env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return str(session_correlation_id(session.session_id)), len(hand_count(session).responses)


@pytest.mark.covers("feature:claude-code-transcripts")
def test_a_claude_code_trace_shows_its_cost_and_llm_spans(
    demo_stack: DemoStack, page: Any, tmp_path: Path
) -> None:
    """An imported Claude Code session: the header says tokens, cost and models; every API
    response is an LLM span, with the tool calls it asked for beneath it."""
    cid, responses = _costed_session_imported(demo_stack, tmp_path / "projects")
    _wait_for_llm_calls(demo_stack.database_url, cid, responses)
    url = demo_stack.viewer_url.rstrip("/") + f"/traces/{cid}"
    open_with_key(page, url, demo_stack.key)
    page.wait_for_selector(".wf-row[data-source=llm]")
    assert page.locator(".wf-row[data-source=llm]").count() == responses
    header = page.inner_text(".trace-head")
    assert "tokens" in header.lower()
    assert "cost" in header.lower()
    assert "$" in header
    assert "claude-sonnet-4-5" in header
    assert "claude-haiku-4-5" in header
    assert page.locator(".wf-row[data-source=llm] .note", has_text="tokens").count() == responses
    bash = page.locator(".wf-row[data-source=action]", has_text="pytest -x")
    assert bash.count() == 1
    assert "is-error" in (bash.get_attribute("class") or "")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "viewer-trace-claude-code-costed.png"), full_page=True)
