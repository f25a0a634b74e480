"""The agent registry: agent definitions read from YAML files in one or more directories.

A file holds one agent (a mapping with ``name``) or several (a mapping with an ``agents``
list). A malformed file or entry is reported as a :class:`RegistryProblem` naming the path and
the field at fault, and never stops the other files from loading. Directories later in the
search order override agents of the same name from earlier ones, so a user directory can
replace a shipped agent.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from omniclaude.errors import ConfigurationError

__all__ = [
    "ENTRY_POINT_GROUP",
    "AgentDefinition",
    "AgentRegistry",
    "RegistryProblem",
    "default_agents_dir",
    "resolve_entrypoint",
]

ENTRY_POINT_GROUP = "omniclaude.agents"
"""Entry point group third-party packages use to ship agent callables (``ep:<name>``)."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_ENTRYPOINT = re.compile(rf"^(?:ep:[A-Za-z0-9_.-]+|{_DOTTED}:{_DOTTED}|{_DOTTED}\.[A-Za-z_]\w*)$")


def default_agents_dir() -> Path:
    """Return the directory of the agent definitions shipped with the package."""
    return Path(str(files("omniclaude.routing") / "agents"))


class AgentDefinition(BaseModel):
    """One agent: what it is for, when to pick it, what it may use and what runs it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Unique name, lowercase, e.g. 'code-analyzer'.")
    description: str = Field(min_length=1, max_length=2000)
    domain: str = Field(default="general", min_length=1, max_length=64)
    version: str = "1.0"
    triggers: tuple[str, ...] = Field(default=(), description="Activation phrases.")
    patterns: tuple[str, ...] = Field(
        default=(), description="Regular expressions; a match counts as a weaker trigger."
    )
    capabilities: tuple[str, ...] = ()
    examples: tuple[str, ...] = Field(
        default=(),
        description="Prompts that should route to this agent (nearest-neighbour signal).",
    )
    tools: tuple[str, ...] = Field(default=(), description="Tools it may call (empty: any).")
    entrypoint: str = Field(description="'package.module:callable', dotted path or 'ep:<name>'.")
    aliases: tuple[str, ...] = ()
    file_patterns: tuple[str, ...] = Field(
        default=(), description="Globs of files this agent is relevant to (context signal)."
    )
    timeout_s: float | None = Field(default=None, gt=0, le=3600)
    max_retries: int | None = Field(default=None, ge=0, le=10)
    source: str | None = Field(default=None, description="File it was loaded from.")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be lowercase letters, digits, '-' or '_' (at most 128)")
        return value

    @field_validator("aliases")
    @classmethod
    def _check_aliases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alias in value:
            if not _NAME.match(alias):
                raise ValueError(f"alias {alias!r} must look like an agent name")
        return value

    @field_validator("triggers", "capabilities", "examples", "tools", "file_patterns")
    @classmethod
    def _check_phrases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(item.strip() for item in value)
        if any(not item for item in cleaned):
            raise ValueError("entries must be non-empty strings")
        return cleaned

    @field_validator("patterns")
    @classmethod
    def _check_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a regular expression: {exc}") from exc
        return value

    @field_validator("entrypoint")
    @classmethod
    def _check_entrypoint(cls, value: str) -> str:
        if not _ENTRYPOINT.match(value):
            raise ValueError("expected 'package.module:callable', a dotted path or 'ep:<name>'")
        return value

    def summary(self) -> dict[str, Any]:
        """Return the definition as JSON-ready data (what a manifest injects)."""
        return self.model_dump(mode="json", exclude={"source"})


@dataclass(frozen=True, slots=True)
class RegistryProblem:
    """A file or entry that could not be loaded: where, which field and why."""

    path: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"


def _entries(data: Any) -> Iterator[tuple[str, Any]]:
    """Yield ``(field prefix, entry)`` for each agent a parsed file holds."""
    if isinstance(data, Mapping) and "agents" in data and "name" not in data:
        agents = data["agents"]
        if not isinstance(agents, list):
            yield "agents", agents
            return
        for index, entry in enumerate(agents):
            yield f"agents[{index}]", entry
    else:
        yield "", data


def _field_of(prefix: str, error: Mapping[str, Any]) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    joined = ".".join(part for part in (prefix, loc) if part)
    return joined or "(file)"


def _load_file(path: Path) -> tuple[list[AgentDefinition], list[RegistryProblem]]:
    agents: list[AgentDefinition] = []
    problems: list[RegistryProblem] = []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return [], [RegistryProblem(str(path), "(file)", f"cannot read: {exc}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        return [], [RegistryProblem(str(path), where, f"not valid YAML: {exc}")]
    for prefix, entry in _entries(data):
        if not isinstance(entry, Mapping):
            kind = type(entry).__name__
            problems.append(
                RegistryProblem(str(path), prefix or "(file)", f"expected a mapping, got {kind}")
            )
            continue
        try:
            agents.append(AgentDefinition.model_validate({**entry, "source": str(path)}))
        except ValidationError as exc:
            problems.extend(
                RegistryProblem(str(path), _field_of(prefix, error), str(error["msg"]))
                for error in exc.errors(include_url=False)
            )
    return agents, problems


class AgentRegistry:
    """A set of agent definitions, by name (aliases resolve to their agent)."""

    def __init__(
        self, agents: Iterable[AgentDefinition] = (), problems: Iterable[RegistryProblem] = ()
    ) -> None:
        """Build a registry from definitions; a later definition replaces an earlier one."""
        self._agents: dict[str, AgentDefinition] = {}
        for agent in agents:
            self._agents[agent.name] = agent
        self.problems: list[RegistryProblem] = list(problems)
        self._aliases = {
            alias: agent.name for agent in self._agents.values() for alias in agent.aliases
        }

    @classmethod
    def load(
        cls, directories: Iterable[Path] | None = None, *, include_defaults: bool = True
    ) -> AgentRegistry:
        """Load every ``*.yaml``/``*.yml`` file of the shipped directory and ``directories``.

        Args:
            directories: extra directories, searched in order after the shipped one; missing
                directories are reported as problems.
            include_defaults: load the agents shipped with the package first.

        Returns:
            The registry; ``problems`` lists every file or field that was skipped.
        """
        search = [default_agents_dir()] if include_defaults else []
        search.extend(Path(d) for d in directories or ())
        agents: list[AgentDefinition] = []
        problems: list[RegistryProblem] = []
        for directory in search:
            if not directory.is_dir():
                problems.append(RegistryProblem(str(directory), "(directory)", "not a directory"))
                continue
            seen: dict[str, str] = {}
            paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
            for path in paths:
                loaded, file_problems = _load_file(path)
                problems.extend(file_problems)
                for agent in loaded:
                    if agent.name in seen:
                        problems.append(
                            RegistryProblem(
                                str(path),
                                "name",
                                f"{agent.name!r} is also defined in {seen[agent.name]}",
                            )
                        )
                        continue
                    seen[agent.name] = str(path)
                    agents.append(agent)
        return cls(agents, problems)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.resolve_name(name) is not None

    def __iter__(self) -> Iterator[AgentDefinition]:
        return iter(self._agents.values())

    def __len__(self) -> int:
        return len(self._agents)

    @property
    def names(self) -> list[str]:
        """Agent names, sorted."""
        return sorted(self._agents)

    def resolve_name(self, name: str) -> str | None:
        """Return the agent name ``name`` refers to (itself or an alias), or None."""
        key = name.strip().lower()
        if key in self._agents:
            return key
        return self._aliases.get(key)

    def get(self, name: str) -> AgentDefinition | None:
        """Return the agent called ``name`` (or aliased so), or None."""
        resolved = self.resolve_name(name)
        return None if resolved is None else self._agents[resolved]

    def require(self, name: str, *, field: str = "agent") -> AgentDefinition:
        """Return the agent called ``name``.

        Raises:
            ConfigurationError: no such agent; the message names ``field`` and the known ones.
        """
        agent = self.get(name)
        if agent is None:
            known = ", ".join(self.names) or "(none)"
            raise ConfigurationError(f"{field}: unknown agent {name!r} (known: {known})")
        return agent


def resolve_entrypoint(spec: str) -> Callable[..., Any]:
    """Import and return the callable an agent's ``entrypoint`` names.

    Raises:
        ConfigurationError: the module, attribute or entry point does not exist, or is not
            callable; the message names the ``entrypoint`` field.
    """
    try:
        if spec.startswith("ep:"):
            name = spec[3:]
            found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
            if not found:
                raise ConfigurationError(
                    f"entrypoint: no entry point {name!r} in {ENTRY_POINT_GROUP}"
                )
            target = found[0].load()
        else:
            module_name, sep, attr = spec.partition(":")
            if not sep:
                module_name, _, attr = spec.rpartition(".")
            target = importlib.import_module(module_name)
            for part in attr.split("."):
                target = getattr(target, part)
    except ImportError as exc:
        raise ConfigurationError(f"entrypoint: cannot import {spec!r}: {exc}") from exc
    except AttributeError as exc:
        raise ConfigurationError(f"entrypoint: {spec!r} not found: {exc}") from exc
    if not callable(target):
        raise ConfigurationError(f"entrypoint: {spec!r} is not callable")
    return target  # type: ignore[no-any-return]
