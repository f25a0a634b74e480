"""``omniclaude agents`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omniclaude.cli import _register_all, app


@pytest.fixture(scope="module")
def cli() -> CliRunner:
    """A CLI runner with every command registered."""
    _register_all()
    return CliRunner()


def test_agents_list_shows_shipped_agents(cli: CliRunner, tmp_path: Path) -> None:
    """``agents list --json`` lists the shipped agents and exits 0."""
    result = cli.invoke(
        app, ["agents", "list", "--json"], env={"OMNICLAUDE_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 0, result.output
    assert "code-analyzer" in {a["name"] for a in json.loads(result.stdout)["agents"]}


def test_agents_list_reports_a_bad_file_and_exits_1(cli: CliRunner, tmp_path: Path) -> None:
    """A malformed user file is named with its field; the good agents still list."""
    (tmp_path / "bad.yaml").write_text("name: x\ndescription: d\nentrypoint: '!!'\n")
    result = cli.invoke(
        app, ["agents", "list", "--dir", str(tmp_path)], env={"OMNICLAUDE_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert "bad.yaml: entrypoint:" in result.output.replace("\n", "")
    assert "test-finder" in result.output


def test_agents_route_and_eval(cli: CliRunner, tmp_path: Path) -> None:
    """``agents route`` prints the choice; ``agents eval`` prints the accuracy."""
    env = {"OMNICLAUDE_DATA_DIR": str(tmp_path)}
    routed = cli.invoke(app, ["agents", "route", "list the dependencies"], env=env)
    assert routed.exit_code == 0
    assert "dependency-auditor" in routed.output
    data = tmp_path / "set.jsonl"
    data.write_text(json.dumps({"prompt": "find the tests", "agent": "docs-auditor"}) + "\n")
    evaluated = cli.invoke(app, ["agents", "eval", str(data)], env=env)
    assert evaluated.exit_code == 0
    assert "top-1 accuracy (all): 0/1" in evaluated.output
    assert "docs-auditor" in evaluated.output


def test_agents_eval_reports_each_split(cli: CliRunner, tmp_path: Path) -> None:
    """The shipped eval reports tune, held-out and the dev sets apart, with the threshold."""
    env = {"OMNICLAUDE_DATA_DIR": str(tmp_path)}
    result = cli.invoke(app, ["agents", "eval", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["splits"]) == {
        "tune",
        "held-out",
        "dev-fresh",
        "dev-fresh-final",
        "dev-h17b",
        "fresh-sealed",
    }
    held = data["splits"]["held-out"]
    assert held["total"] == 29
    assert {"low", "high", "decisions", "right"} <= set(held["reliability"][0])
    assert data["held_out_best_threshold"] == data["min_confidence"]
    shown = cli.invoke(app, ["agents", "eval", "--split", "dev-fresh", "--misses"], env=env)
    assert shown.exit_code == 0
    assert "top-1 accuracy (dev-fresh):" in shown.output
    assert "reliability" in shown.output
    strict = cli.invoke(
        app, ["agents", "eval", "--split", "dev-fresh", "--strict-vocabulary", "--json"], env=env
    )
    assert strict.exit_code == 0
    strict_fresh = json.loads(strict.stdout)["splits"]["dev-fresh"]
    assert strict_fresh["right"] < data["splits"]["dev-fresh"]["right"]
    missing = cli.invoke(app, ["agents", "eval", "--split", "nope"], env=env)
    assert missing.exit_code == 1
    assert "no rows in split(s) nope" in missing.output
