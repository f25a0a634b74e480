"""The built wheel, installed alone in a clean virtual environment, runs every command.

Nothing from the dev extras, nothing from this checkout: the wheel is built from the
repository (``pip wheel --no-deps``), installed with its runtime dependencies pinned by
``constraints.txt`` into a fresh venv, and its ``omniclaude`` runs from a directory outside the
repository with an environment that names no OmniClaude setting but the database.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures import run_coroutine
from tests.fixtures.postgres import PostgresService, _create_database, _drop_database

ROOT = Path(__file__).resolve().parent.parent.parent

_LIST_COMMANDS = """
import json, typer.main
from omniclaude.cli import _register_all, app
_register_all()
root = typer.main.get_command(app)
out = []
for name, command in sorted(root.commands.items()):
    out.append([name])
    for sub in sorted(getattr(command, "commands", {}) or {}):
        out.append([name, sub])
print(json.dumps(out))
"""


@dataclass(frozen=True)
class PlainVenv:
    """A venv holding only the built wheel and its runtime dependencies."""

    path: Path
    workdir: Path
    env: dict[str, str]

    def run(
        self, *args: str, stdin: int | None = None, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a program of the venv (``omniclaude``, ``python``) outside the repository."""
        return subprocess.run(
            [str(self.path / "bin" / args[0]), *args[1:]], cwd=self.workdir,
            env={**self.env, **(extra or {})}, stdin=stdin, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip


def _dev_only_packages() -> set[str]:
    """Names of the dev extras (normalised) that are not runtime dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def name(spec: str) -> str:
        return re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-")

    runtime = {name(spec) for spec in project["dependencies"]}
    return {name(spec) for spec in project["optional-dependencies"]["dev"]} - runtime


def _pip(*args: str) -> None:
    result = subprocess.run(
        [*args, "--quiet", "--disable-pip-version-check"], capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory: pytest.TempPathFactory) -> PlainVenv:
    """Build the wheel, install it alone (runtime deps pinned) into a fresh venv."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    _pip(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(ROOT))
    [wheel] = dist.glob("omniclaude-*.whl")
    venv = root / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert made.returncode == 0, made.stderr
    python = str(venv / "bin" / "python")
    _pip(python, "-m", "pip", "install", "-c", str(ROOT / "constraints.txt"), str(wheel))
    workdir = root / "work"
    workdir.mkdir()
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("OMNICLAUDE_", "PYTHON", "VIRTUAL_ENV", "COVERAGE_"))
    }  # fmt: skip
    env.update(OMNICLAUDE_DATA_DIR=str(root / "data"), PATH=f"{venv / 'bin'}:{env['PATH']}")
    return PlainVenv(venv, workdir, env)


@pytest.fixture
def fresh_database(postgres_service: PostgresService) -> Iterator[str]:
    """An empty database (no migration applied), dropped afterwards."""
    name = f"omniclaude_wheel_{secrets.token_hex(4)}"
    run_coroutine(lambda: _create_database(postgres_service.url, name))
    try:
        yield postgres_service.url_for(name)
    finally:
        run_coroutine(
            lambda: _drop_database(postgres_service.url, name, postgres_service.version_num)
        )


def test_the_plain_venv_has_no_dev_tool_and_no_checkout(plain_venv: PlainVenv) -> None:
    """Only runtime dependencies are installed, and omniclaude comes from the wheel."""
    listed = plain_venv.run("python", "-m", "pip", "list", "--format=json")
    assert listed.returncode == 0, listed.stderr
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(listed.stdout)}
    leaked = installed & _dev_only_packages()
    assert not leaked, f"dev-only packages in the plain venv: {sorted(leaked)}"
    where = plain_venv.run("python", "-c", "import omniclaude; print(omniclaude.__file__)")
    assert str(plain_venv.path) in where.stdout, f"omniclaude imported from {where.stdout}"


def test_plain_wheel_install_runs_every_command(plain_venv: PlainVenv, fresh_database: str) -> None:
    """db upgrade migrates a real database; every command and subcommand answers --help;
    the hook exits 0 on empty input."""
    upgraded = plain_venv.run("omniclaude", "db", "upgrade",
                              extra={"OMNICLAUDE_DATABASE_URL": fresh_database})  # fmt: skip
    assert upgraded.returncode == 0, f"db upgrade failed:\n{upgraded.stdout}{upgraded.stderr}"
    current = plain_venv.run("omniclaude", "db", "current",
                             extra={"OMNICLAUDE_DATABASE_URL": fresh_database})  # fmt: skip
    assert current.returncode == 0, current.stdout + current.stderr

    listed = plain_venv.run("python", "-c", _LIST_COMMANDS)
    assert listed.returncode == 0, listed.stderr
    commands: list[list[str]] = json.loads(listed.stdout)
    assert ["consume"] in commands, commands
    failures = []
    for command in commands:
        helped = plain_venv.run("omniclaude", *command, "--help")
        if helped.returncode != 0 or "Usage" not in helped.stdout:
            failures.append(
                f"{' '.join(command)}: exit {helped.returncode}: {helped.stderr[-500:]}"
            )
    assert not failures, "\n".join(failures)

    spool = plain_venv.workdir / "spool"
    hooked = plain_venv.run("omniclaude", "hook", stdin=subprocess.DEVNULL,
                            extra={"OMNICLAUDE_SPOOL_DIR": str(spool)})  # fmt: skip
    assert hooked.returncode == 0, hooked.stderr
    assert (hooked.stdout, hooked.stderr) == ("", "")
    assert "empty stdin" in (spool / "hook.log").read_text(), "the hook did not run"
