"""The code tree agents work on, with every path confined to it, and the file tools they use.

Tools are plain synchronous functions (the runtime runs them in a worker thread and logs each
call); they never follow a path outside the workspace root and read bounded amounts.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

from omniclaude.errors import OmniClaudeError
from omniclaude.runtime.patterns import compile_user_pattern

__all__ = [
    "LANGUAGES",
    "SKIP_DIRS",
    "PathOutsideWorkspaceError",
    "PythonModule",
    "Workspace",
    "count_lines",
    "language_of",
    "parse_python",
]

LANGUAGES: dict[str, str] = {
    ".py": "Python", ".pyi": "Python", ".js": "JavaScript", ".mjs": "JavaScript",
    ".ts": "TypeScript", ".tsx": "TypeScript", ".jsx": "JavaScript", ".go": "Go",
    ".rs": "Rust", ".java": "Java", ".kt": "Kotlin", ".c": "C", ".h": "C", ".cpp": "C++",
    ".hpp": "C++", ".cs": "C#", ".rb": "Ruby", ".php": "PHP", ".swift": "Swift",
    ".sh": "Shell", ".sql": "SQL", ".md": "Markdown", ".rst": "reStructuredText",
    ".toml": "TOML", ".yaml": "YAML", ".yml": "YAML", ".json": "JSON", ".html": "HTML",
    ".css": "CSS",
}  # fmt: skip
"""File extension → language name."""

SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache",
     ".pytest_cache", ".ruff_cache", "dist", "build", ".tox", ".idea", ".vscode"}
)  # fmt: skip
"""Directories never walked (dependencies, caches, VCS data)."""

_TODO = re.compile(r"\b(TODO|FIXME|XXX|HACK)\b[:\s(]*(.*)")


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/-])/(?:[^\s/\"'<>:,;()\[\]{}]+/)*[^\s/\"'<>:,;()\[\]{}]+")
"""An absolute POSIX path inside text (not the path part of a URL: ``//`` or ``x/`` before)."""
_PYTHON_LIB = re.compile(r"/lib/python3\.\d+/")
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2]) + "/"
"""The directory holding the ``omniclaude`` package (its source tree or site-packages)."""


class PathOutsideWorkspaceError(OmniClaudeError, ValueError):
    """A path given to an agent points outside its workspace."""


def language_of(path: str | Path) -> str | None:
    """Return the language of a file by its extension, or None."""
    return LANGUAGES.get(Path(path).suffix.lower())


def count_lines(text: str) -> dict[str, int]:
    """Count total, blank, comment (``#``/``//``) and code lines of ``text``."""
    total = blank = comment = 0
    for line in text.splitlines():
        total += 1
        stripped = line.strip()
        if not stripped:
            blank += 1
        elif stripped.startswith(("#", "//")):
            comment += 1
    return {"total": total, "blank": blank, "comment": comment, "code": total - blank - comment}


@dataclass(slots=True)
class PythonModule:
    """What :func:`parse_python` finds in a module."""

    functions: list[dict[str, Any]] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    todos: list[dict[str, Any]] = field(default_factory=list)
    docstring: bool = False
    syntax_error: str | None = None


def _complexity(node: ast.AST) -> int:
    """McCabe-style complexity: 1 + branches."""
    branches = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith,
                ast.IfExp, ast.ExceptHandler, ast.comprehension, ast.Match)  # fmt: skip
    score = 1
    for child in ast.walk(node):
        if isinstance(child, branches):
            score += 1
        elif isinstance(child, ast.BoolOp):
            score += len(child.values) - 1
    return score


def parse_python(source: str) -> PythonModule:
    """Parse Python ``source``: functions (with length, complexity, docstring), classes,
    imports and TODO/FIXME comments. A syntax error is reported, not raised."""
    module = PythonModule()
    for number, line in enumerate(source.splitlines(), start=1):
        if "#" in line:
            match = _TODO.search(line[line.index("#") :])
            if match:
                module.todos.append(
                    {"line": number, "tag": match.group(1), "text": match.group(2)[:200]}
                )
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        module.syntax_error = str(exc)
        return module
    module.docstring = ast.get_docstring(tree) is not None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = getattr(node, "end_lineno", node.lineno) or node.lineno
            module.functions.append(
                {
                    "name": node.name,
                    "line": node.lineno,
                    "lines": end - node.lineno + 1,
                    "complexity": _complexity(node),
                    "docstring": ast.get_docstring(node) is not None,
                    "public": not node.name.startswith("_"),
                }
            )
        elif isinstance(node, ast.ClassDef):
            module.classes.append(
                {
                    "name": node.name,
                    "line": node.lineno,
                    "docstring": ast.get_docstring(node) is not None,
                    "public": not node.name.startswith("_"),
                }
            )
        elif isinstance(node, ast.Import):
            module.imports.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            module.imports.append(node.module)
    return module


class Workspace:
    """A directory agents may read, and nothing outside it.

    Args:
        root: the directory.
        max_files: the most files one listing returns.
        max_file_bytes: the most bytes one read returns.
    """

    def __init__(
        self, root: Path, *, max_files: int = 5000, max_file_bytes: int = 1_000_000
    ) -> None:
        self.root = Path(root).resolve()
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes

    def resolve(self, relative: str, *, field: str = "path") -> Path:
        """Return the absolute path of ``relative`` inside the workspace.

        Raises:
            PathOutsideWorkspaceError: the path is absolute, or escapes the root (``..``,
                symbolic links); the message names ``field``.
        """
        pure = PurePosixPath(relative.replace("\\", "/"))
        if pure.is_absolute() or relative.startswith("~"):
            raise PathOutsideWorkspaceError(
                f"{field}: {relative!r} must be relative to the workspace"
            )
        candidate = (self.root / pure).resolve()
        if candidate != self.root and self.root not in candidate.parents:
            raise PathOutsideWorkspaceError(f"{field}: {relative!r} is outside the workspace")
        return candidate

    def hide_paths(self, text: str) -> str:
        """Return ``text`` (an error message, a traceback) with no absolute server path.

        A path in the workspace becomes relative to it; one in an installed package or in
        the standard library keeps only its part from the package on
        (``omniclaude/runtime/context.py``); any other keeps only its last name (``…/x``).
        """
        root = str(self.root)

        def public(match: re.Match[str]) -> str:
            path = match.group(0)
            if path == root:
                return "."
            if path.startswith(root + "/"):
                return path[len(root) + 1 :]
            for marker in ("/site-packages/", "/dist-packages/"):
                if marker in path:
                    return path.split(marker, 1)[1]
            if path.startswith(_PACKAGE_PARENT):
                return path[len(_PACKAGE_PARENT) :]
            stdlib = _PYTHON_LIB.search(path)
            if stdlib:
                return "python/" + path[stdlib.end() :]
            return "…/" + path.rsplit("/", 1)[-1]

        return _ABSOLUTE_PATH.sub(public, text)

    def relative(self, path: Path) -> str:
        """Return ``path`` relative to the root, with forward slashes."""
        return path.relative_to(self.root).as_posix()

    def iter_files(self, base: str = ".", patterns: Iterable[str] = ()) -> Iterator[Path]:
        """Yield files under ``base`` (skipping :data:`SKIP_DIRS` and hidden directories)."""
        wanted = tuple(patterns)
        start = self.resolve(base, field="path")
        if start.is_file():
            yield start
            return
        for directory, dirnames, filenames in os.walk(start):
            dirnames[:] = sorted(
                d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
            )
            for name in sorted(filenames):
                if not wanted or any(fnmatch(name, p) for p in wanted):
                    path = Path(directory) / name
                    if path.is_file() and not path.is_symlink():
                        yield path

    def list_files(self, base: str = ".", patterns: Iterable[str] = ()) -> list[str]:
        """Return up to ``max_files`` relative paths of files under ``base``."""
        found = []
        for path in self.iter_files(base, patterns):
            found.append(self.relative(path))
            if len(found) >= self.max_files:
                break
        return found

    def read_text(self, relative: str) -> str:
        """Return the text of a file (at most ``max_file_bytes``; undecodable bytes replaced).

        Raises:
            PathOutsideWorkspaceError: the path leaves the workspace.
            FileNotFoundError: no such file.
            IsADirectoryError: not a regular file (a directory, a FIFO, a device).
        """
        path = self.resolve(relative)
        if path.exists() and not path.is_file():  # a directory, a FIFO (would block), a device
            raise IsADirectoryError(21, "not a regular file", relative)
        try:
            with path.open("rb") as handle:
                data = handle.read(self.max_file_bytes)
        except OSError as exc:
            # The same error, naming the path as the request did: never the server's layout.
            raise type(exc)(exc.errno, exc.strerror, relative) from None
        return data.decode("utf-8", errors="replace")

    def search(
        self,
        pattern: str,
        files: Iterable[str],
        *,
        max_matches: int = 500,
        field: str = "pattern",
    ) -> list[dict[str, Any]]:
        """Return lines matching the regular expression ``pattern`` in ``files``.

        The pattern is compiled by RE2 (:func:`~omniclaude.runtime.patterns.compile_user_pattern`):
        matching is linear in the text whatever the pattern, so a request cannot make it
        backtrack for ever.

        Raises:
            InvalidPatternError: ``pattern`` is not a valid RE2 pattern (the message names
                ``field``).
        """
        regex = compile_user_pattern(pattern, field=field)
        matches: list[dict[str, Any]] = []
        for relative in files:
            for number, line in enumerate(self.read_text(relative).splitlines(), start=1):
                if regex.search(line):
                    matches.append({"file": relative, "line": number, "text": line.strip()[:200]})
                    if len(matches) >= max_matches:
                        return matches
        return matches
