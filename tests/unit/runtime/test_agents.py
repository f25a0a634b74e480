"""The built-in agents do real work on a sample project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omniclaude.runtime import ExecutionRequest
from omniclaude.runtime.agents.code_search import extract_query
from omniclaude.runtime.agents.dependency_auditor import normalize, parse_requirement
from omniclaude.runtime.agents.docs_auditor import readme_sections
from omniclaude.runtime.agents.file_reader import pick_file
from omniclaude.runtime.agents.polymorphic import split_request
from omniclaude.runtime.agents.security_scanner import scan_python, scan_text
from omniclaude.runtime.agents.test_finder import is_test_file
from tests.unit.runtime.conftest import RunnerFactory


async def _run(
    make_runner: RunnerFactory, agent: str, prompt: str = "x", **context: Any
) -> dict[str, Any]:
    runner, _ = make_runner()
    state = await runner.run(ExecutionRequest(user_prompt=prompt, agent=agent, context=context))
    assert state.status == "success", state.error
    assert state.result is not None
    return state.result


async def test_code_analyzer(make_runner: RunnerFactory) -> None:
    """Files, languages, lines, functions and TODOs of the sample; focus on main.py."""
    analysis = (await _run(make_runner, "code-analyzer", files=["main.py"]))["analysis"]
    assert analysis["files"] == 5
    assert analysis["languages"]["Python"]["files"] == 3
    assert analysis["python"] == {"modules": 3, "functions": 4, "classes": 1, "syntax_errors": []}
    assert [t["tag"] for t in analysis["todos"]["items"]] == ["TODO", "FIXME"]
    assert analysis["focus"][0]["functions"] == ["main", "fetch"]


async def test_test_finder(make_runner: RunnerFactory) -> None:
    """Finds the test, maps it to utils.py, and lists main.py as untested."""
    result = await _run(make_runner, "test-finder", "find the tests for utils")
    assert result["tests"]["test_functions"] == 1
    assert result["tests_by_module"] == {"utils.py": ["tests/test_utils.py"]}
    assert result["modules_without_tests"] == ["main.py"]
    assert result["focus"] == {"utils.py": ["tests/test_utils.py"]}


async def test_dependency_auditor(make_runner: RunnerFactory) -> None:
    """requests is declared and imported; click is declared and unused; utils is local."""
    result = await _run(make_runner, "dependency-auditor")
    assert [e["name"] for e in result["declared"]["pyproject.toml"]] == ["requests", "click"]
    assert result["third_party_imports"] == {"requests": ["main.py"]}
    assert result["undeclared_imports"] == []
    assert result["declared_but_unused"] == ["click"]


async def test_security_scanner(make_runner: RunnerFactory, project: Path) -> None:
    """Risky calls and secrets are reported by severity, file and line."""
    (project / "risky.py").write_text(
        "import subprocess, yaml, requests, pickle, hashlib\n"
        "eval('1')\nsubprocess.run('ls', shell=True)\nyaml.load(open('x'))\n"
        "requests.get('u', verify=False)\npickle.loads(b'')\nhashlib.md5(b'')\n"
        "DB_PASSWORD = 'correct-horse-battery'\n"
    )
    (project / "key.pem").write_text("-----BEGIN RSA PRIVATE KEY-----\nAKIAABCDEFGHIJKLMNOP\n")
    result = await _run(make_runner, "security-scanner")
    rules = {(f["file"], f["rule"]) for f in result["findings"]}
    assert {
        ("risky.py", r)
        for r in (
            "eval",
            "shell",
            "yaml-load",
            "tls-verify",
            "pickle",
            "weak-hash",
            "hardcoded-secret",
        )
    } <= rules
    assert {("key.pem", "private-key"), ("key.pem", "aws-key")} <= rules
    assert result["by_severity"]["high"] >= 5
    assert all("correct-horse" not in str(f) for f in result["findings"]), (
        "a secret leaked into the report"
    )


def test_security_rules_stay_quiet_on_safe_code() -> None:
    """Safe calls and short or unrelated constants are not findings."""
    assert (
        scan_python(
            "import yaml\nyaml.load(f, Loader=yaml.SafeLoader)\n"
            "subprocess.run(['ls'])\npassword = ''\n"
        )
        == []
    )
    assert scan_python("def (:") == []
    assert scan_text("nothing here") == []


async def test_docs_auditor(make_runner: RunnerFactory) -> None:
    """Undocumented public symbols are listed; the README's sections are checked."""
    result = await _run(make_runner, "docs-auditor")
    missing = {(m["file"], m["name"]) for m in result["missing_docstrings"]}
    assert missing == {("main.py", "fetch"), ("utils.py", "slugify"), ("utils.py", "Cache")}
    assert result["readme"]["sections"] == {"install": True, "usage": False, "license": False}
    assert 0 < result["docstring_coverage"] < 1
    assert result["quality_score"] == result["docstring_coverage"]
    assert readme_sections("## Quick start\nLicense: MIT") == {
        "install": False,
        "usage": True,
        "license": True,
    }


async def test_code_search(make_runner: RunnerFactory) -> None:
    """Finds the definition and every usage of a symbol."""
    result = await _run(make_runner, "code-search", "where is slugify defined")
    assert result["query"] == "slugify"
    assert result["definitions"] == [{"file": "utils.py", "kind": "function", "line": 1}]
    assert result["files"] == {"main.py": 2, "tests/test_utils.py": 2, "utils.py": 1}


@pytest.mark.parametrize(
    ("prompt", "context", "expected"),
    [
        ("Find all usages of write_events", None, ("write_events", False)),
        ("Search for lines matching 'TODO\\(\\w+\\)'", None, ("TODO\\(\\w+\\)", True)),
        ("Where is the Router class defined?", None, ("Router", False)),
        ("Who calls omniclaude.api.create_app?", None, ("omniclaude.api.create_app", False)),
        ("anything", {"query": "x+", "regex": True}, ("x+", True)),
        ("find", None, ("find", False)),
    ],
)
def test_extract_query(
    prompt: str, context: dict[str, Any] | None, expected: tuple[str, bool]
) -> None:
    """The search term comes from context, quotes, code-like words, then any word."""
    assert extract_query(prompt, context) == expected


async def test_file_reader(make_runner: RunnerFactory) -> None:
    """Reads the named file in one tool call; without a file it fails naming the field."""
    result = await _run(make_runner, "file-reader", "show me utils.py")
    assert result["file"] == "utils.py"
    assert result["language"] == "Python"
    assert result["lines"]["total"] == 6
    runner, _ = make_runner()
    state = await runner.run(ExecutionRequest(user_prompt="read something", agent="file-reader"))
    assert state.status == "failed"
    assert state.error is not None
    assert state.error["message"].startswith("context.files:")
    assert pick_file("x", {"files": ["a.py"]}) == "a.py"
    assert pick_file("open docs/sdk.md now", {}) == "docs/sdk.md"


def test_helpers() -> None:
    """Small helpers of the agents behave."""
    assert is_test_file("tests/test_a.py")
    assert is_test_file("web/a.spec.ts")
    assert not is_test_file("tests/conftest.py")
    assert not is_test_file("src/a.py")
    assert parse_requirement("requests>=2  # http") == "requests"
    assert parse_requirement("-r other.txt") is None
    assert normalize("PyYAML") == "yaml"
    assert normalize("typing-extensions") == "typing_extensions"
    assert split_request("analyze the code and then list the dependencies; thanks") == [
        "analyze the code",
        "list the dependencies",
    ]
