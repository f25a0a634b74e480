"""Contract test: the committed JSON Schemas are promises; breaking one needs a version bump."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from omniclaude.events import CATALOG, AgentAction
from omniclaude.events.schemas import (
    export_schemas,
    incompatibilities,
    schema_filename,
    schema_of,
    version_of,
)

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


@pytest.mark.parametrize("kind", CATALOG, ids=lambda kind: kind.event_type)
def test_model_is_compatible_with_its_committed_schema(kind) -> None:  # type: ignore[no-untyped-def]
    """No event model breaks the schema committed for its version."""
    path = SCHEMAS / schema_filename(kind.event_type, version_of(kind.model))
    assert path.exists(), (
        f"{path.name} is not committed: a new event type or version needs `make schemas`"
    )
    problems = incompatibilities(json.loads(path.read_text()), schema_of(kind.model))
    assert not problems, (
        f"{kind.event_type} v{version_of(kind.model)} changed incompatibly: {problems}; "
        "bump its schema_version and run `make schemas`"
    )


@pytest.mark.parametrize("kind", CATALOG, ids=lambda kind: kind.event_type)
def test_committed_schema_is_up_to_date(kind) -> None:  # type: ignore[no-untyped-def]
    """The committed file equals the model's schema (compatible changes are re-exported)."""
    path = SCHEMAS / schema_filename(kind.event_type, version_of(kind.model))
    assert json.loads(path.read_text()) == schema_of(kind.model), (
        f"{path.name} is stale: run `make schemas` and commit the result"
    )


def _committed(model: type[AgentAction]) -> dict:  # type: ignore[type-arg]
    return json.loads((SCHEMAS / schema_filename("agent_action", version_of(model))).read_text())


def test_removing_a_field_is_incompatible() -> None:
    """A model without a committed field fails the contract."""

    class Removed(AgentAction):
        pass

    schema = schema_of(Removed)
    del schema["properties"]["action_name"]
    schema["required"].remove("action_name")
    assert "action_name: field removed" in incompatibilities(_committed(AgentAction), schema)


def test_changing_a_type_is_incompatible() -> None:
    """A field whose type changes (string → integer) fails the contract."""

    class Changed(AgentAction):
        action_name: int  # type: ignore[assignment]

    problems = incompatibilities(_committed(AgentAction), schema_of(Changed))
    assert any(p.startswith("action_name: type changed") for p in problems), problems


def test_a_new_required_field_is_incompatible() -> None:
    """Adding a required field breaks every existing producer."""

    class Stricter(AgentAction):
        tenant: str

    assert "tenant: new required field" in incompatibilities(
        _committed(AgentAction), schema_of(Stricter)
    )


def test_narrowing_an_enum_is_incompatible() -> None:
    """Dropping an accepted enum value breaks producers that send it."""

    class Narrow(AgentAction):
        action_type: Literal["tool_call"]  # type: ignore[assignment]

    problems = incompatibilities(_committed(AgentAction), schema_of(Narrow))
    assert any("action_type: type changed" in p for p in problems), problems


def test_a_new_optional_field_is_compatible() -> None:
    """An optional addition keeps old producers valid."""

    class Wider(AgentAction):
        tenant: str | None = Field(default=None)

    assert incompatibilities(_committed(AgentAction), schema_of(Wider)) == []


def test_a_bumped_version_gets_its_own_schema_file(tmp_path: Path) -> None:
    """An incompatible model with a bumped version is exported under a new file name."""

    class V2(AgentAction):
        schema_version: int = 2
        tenant: str

    assert version_of(V2) == 2
    assert schema_filename("agent_action", version_of(V2)) == "agent_action.v2.json"
    written = export_schemas(tmp_path)
    assert {p.name for p in written} == {
        schema_filename(k.event_type, version_of(k.model)) for k in CATALOG
    }
