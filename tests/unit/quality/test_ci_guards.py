"""The CI guards' pure parts: reading pip-audit output, deciding, reading junit, flakiness."""

from __future__ import annotations

import json
from pathlib import Path

from scripts.ci_guards import (
    AuditResult,
    audit_decision,
    junit_outcomes,
    parse_audit,
    unstable_tests,
)


def _report(*deps: dict[str, object]) -> str:
    return json.dumps({"dependencies": list(deps), "fixes": []})


def test_parse_audit_counts_audited_skipped_and_vulnerable_pins() -> None:
    """Audited pins, skipped pins (with the first reason) and each vulnerability are read."""
    out = _report(
        {"name": "a", "version": "1", "vulns": []},
        {"name": "b", "version": "2", "vulns": [{"id": "GHSA-1", "fix_versions": ["2.1"]}]},
        {"name": "c", "version": "3", "skip_reason": "Dependency not found on PyPI"},
    )
    result = parse_audit("pypi", out, "")
    assert (result.audited, result.skipped) == (2, 1)
    assert result.vulnerabilities == ["b 2: GHSA-1 (fixed in 2.1)"]
    assert result.skip_reason == "Dependency not found on PyPI"
    assert result.usable


def test_parse_audit_without_json_is_an_unreachable_service() -> None:
    """No JSON on stdout: the last stderr line is the error and the service is unusable."""
    result = parse_audit("osv", "", "Traceback...\nConnectionError: name resolution failed\n")
    assert result.error == "ConnectionError: name resolution failed"
    assert not result.usable


def test_the_first_usable_service_decides_and_a_vulnerability_fails() -> None:
    """A service that audited pins decides: vulnerabilities fail, none passes."""
    down = AuditResult("osv", error="ConnectionError")
    clean = AuditResult("pypi", audited=5)
    dirty = AuditResult("pypi", audited=5, vulnerabilities=["x 1: CVE-1 (fixed in 2)"])
    assert audit_decision([down, clean], require=True)[0] == 0
    code, lines = audit_decision([down, dirty], require=False)
    assert code == 1
    assert any("CVE-1" in line for line in lines)


def test_no_usable_service_passes_loudly_unless_required() -> None:
    """Nothing audited: a loud notice; exit 0, or 1 with OMNICLAUDE_REQUIRE_AUDIT=1."""
    results = [AuditResult("osv", error="DNS"), AuditResult("pypi", skipped=98, skip_reason="404")]
    code, lines = audit_decision(results, require=False)
    assert code == 0
    assert any("NOT PERFORMED" in line for line in lines)
    assert any("audited 0 of 98 pins" in line for line in lines)
    assert audit_decision(results, require=True)[0] == 1


def test_junit_outcomes_keep_the_worst_outcome_of_a_test(tmp_path: Path) -> None:
    """Passed, failed, error and skipped are read; a teardown error overrides a pass."""
    xml = tmp_path / "run.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="m" name="ok"/>'
        '<testcase classname="m" name="bad"><failure message="x"/></testcase>'
        '<testcase classname="m" name="skip"><skipped message="xfail"/></testcase>'
        '<testcase classname="m" name="td"/>'
        '<testcase classname="m" name="td"><error message="teardown"/></testcase>'
        "</testsuite></testsuites>"
    )
    assert junit_outcomes(xml) == {
        "m::ok": "passed", "m::bad": "failed", "m::skip": "skipped", "m::td": "error",
    }  # fmt: skip


def test_unstable_tests_are_those_not_passing_every_run() -> None:
    """Flaky (mixed), failing (never passed) and missing-in-a-run tests are reported;
    always passed or always skipped are stable."""
    runs = [
        {"a": "passed", "b": "passed", "c": "failed", "d": "skipped", "e": "passed"},
        {"a": "passed", "b": "failed", "c": "failed", "d": "skipped"},
        {"a": "passed", "b": "passed", "c": "failed", "d": "skipped", "e": "passed"},
    ]
    assert unstable_tests(runs) == {
        "b": ["passed", "failed", "passed"],
        "c": ["failed", "failed", "failed"],
        "e": ["passed", "missing", "passed"],
    }
