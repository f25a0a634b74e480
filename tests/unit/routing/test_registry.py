"""The agent registry: shipped agents, user directories, malformed files, entry points."""

from __future__ import annotations

from pathlib import Path

import pytest

from omniclaude.errors import ConfigurationError
from omniclaude.routing import (
    AgentDefinition,
    AgentRegistry,
    default_agents_dir,
    resolve_entrypoint,
)

GOOD = """
name: my-agent
description: Does my things.
domain: mine
triggers: [do my thing]
entrypoint: omniclaude.runtime.agents.file_reader:run
"""


def test_shipped_agents_load_without_problems() -> None:
    """The default registry loads every shipped YAML file, with no problem reported."""
    registry = AgentRegistry.load()
    assert registry.problems == []
    assert {"polymorphic-agent", "code-analyzer", "test-finder", "file-reader"} <= set(
        registry.names
    )
    assert all(
        agent.source and agent.source.startswith(str(default_agents_dir())) for agent in registry
    )


def test_every_shipped_entrypoint_resolves() -> None:
    """Each shipped agent's entrypoint imports to a callable."""
    for agent in AgentRegistry.load():
        assert callable(resolve_entrypoint(agent.entrypoint)), agent.name


def test_malformed_file_is_reported_with_path_and_field_and_others_still_load(
    tmp_path: Path,
) -> None:
    """A file with a bad field is skipped with its path and field named; the rest load."""
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text("name: Bad Name\ndescription: x\nentrypoint: nope\n")
    (tmp_path / "broken.yml").write_text("name: [unclosed\n")
    (tmp_path / "scalar.yaml").write_text("just a string\n")
    registry = AgentRegistry.load([tmp_path])
    assert "my-agent" in registry
    fields = {(Path(p.path).name, p.field) for p in registry.problems}
    assert ("bad.yaml", "name") in fields
    assert ("bad.yaml", "entrypoint") in fields
    assert any(name == "broken.yml" and field.startswith("line") for name, field in fields)
    assert ("scalar.yaml", "(file)") in fields
    assert "bad.yaml: name:" in str(next(p for p in registry.problems if p.field == "name"))


def test_multi_agent_file_names_the_entry_at_fault(tmp_path: Path) -> None:
    """In an ``agents:`` list, the problem names ``agents[i].field``; good entries load."""
    (tmp_path / "many.yaml").write_text(
        "agents:\n"
        "  - {name: one, description: first, entrypoint: 'a.b:c'}\n"
        "  - {name: two, description: second, entrypoint: 'a.b:c', triggers: 5}\n"
        "  - {name: three, description: third, entrypoint: 'a.b:c', unknown_field: 1}\n"
    )
    registry = AgentRegistry.load([tmp_path], include_defaults=False)
    assert registry.names == ["one"]
    fields = sorted(p.field for p in registry.problems)
    assert fields == ["agents[1].triggers", "agents[2].unknown_field"]


def test_duplicate_name_in_one_directory_is_a_problem_but_user_dir_overrides_shipped(
    tmp_path: Path,
) -> None:
    """Two files defining one name in a directory: the second is refused; a user directory
    replaces a shipped agent of the same name."""
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD.replace("Does my things.", "Other."))
    (tmp_path / "c.yaml").write_text(GOOD.replace("my-agent", "file-reader"))
    registry = AgentRegistry.load([tmp_path])
    assert any(p.field == "name" and "also defined" in p.message for p in registry.problems)
    assert registry.require("my-agent").description == "Does my things."
    assert registry.require("file-reader").domain == "mine"


def test_missing_directory_is_reported(tmp_path: Path) -> None:
    """A directory that does not exist is a problem, not a crash."""
    registry = AgentRegistry.load([tmp_path / "absent"], include_defaults=False)
    assert len(registry) == 0
    assert registry.problems[0].field == "(directory)"


def test_aliases_and_require() -> None:
    """Aliases resolve to their agent; an unknown name raises naming the field and the known."""
    registry = AgentRegistry.load()
    assert registry.resolve_name("Analyzer") == "code-analyzer"
    assert registry.get("nope") is None
    with pytest.raises(ConfigurationError, match=r"^agent: unknown agent 'nope' \(known: "):
        registry.require("nope")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("omniclaude.no_such_module:run", "cannot import"),
        ("omniclaude.routing.registry:no_such", "not found"),
        ("omniclaude.routing.registry:ENTRY_POINT_GROUP", "not callable"),
        ("ep:no-such-entry-point", "no entry point"),
    ],
)
def test_resolve_entrypoint_errors_name_the_field(spec: str, message: str) -> None:
    """Bad entrypoints raise ConfigurationError naming ``entrypoint``."""
    with pytest.raises(ConfigurationError, match=f"^entrypoint: .*{message}"):
        resolve_entrypoint(spec)


def test_resolve_entrypoint_accepts_dotted_paths() -> None:
    """``package.module.attr`` resolves like ``package.module:attr``."""
    assert (
        resolve_entrypoint("omniclaude.routing.registry.resolve_entrypoint") is resolve_entrypoint
    )


def test_definition_validation() -> None:
    """Names, patterns and phrases are validated; summary() drops the source path."""
    with pytest.raises(ValueError, match="pattern"):
        AgentDefinition(name="x", description="d", entrypoint="a:b", patterns=("[unclosed",))
    with pytest.raises(ValueError, match="non-empty"):
        AgentDefinition(name="x", description="d", entrypoint="a:b", triggers=(" ",))
    with pytest.raises(ValueError, match="alias"):
        AgentDefinition(name="x", description="d", entrypoint="a:b", aliases=("Bad Alias",))
    agent = AgentDefinition(name="x", description="d", entrypoint="a:b", source="/tmp/x.yaml")
    assert "source" not in agent.summary()
