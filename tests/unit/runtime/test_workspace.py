"""The workspace: confinement, listing, reading, searching, parsing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from omniclaude.runtime import PathOutsideWorkspaceError, Workspace
from omniclaude.runtime.workspace import count_lines, language_of, parse_python


def test_paths_are_confined_to_the_root(project: Path, tmp_path: Path) -> None:
    """Absolute paths, ``..`` and symlinks leading out are refused, naming the field."""
    ws = Workspace(project)
    assert ws.resolve("main.py") == project.resolve() / "main.py"
    for bad in ("/etc/passwd", "../outside", "tests/../../x", "~/x"):
        with pytest.raises(PathOutsideWorkspaceError, match=r"^context\.files\[0\]: "):
            ws.resolve(bad, field="context.files[0]")
    (tmp_path / "secret.txt").write_text("s")
    os.symlink(tmp_path / "secret.txt", project / "link.txt")
    with pytest.raises(PathOutsideWorkspaceError):
        ws.read_text("link.txt")
    assert "link.txt" not in ws.list_files()


def test_listing_skips_caches_and_vcs(project: Path) -> None:
    """Files under .git, __pycache__, node_modules or hidden dirs are never listed."""
    for skipped in (".git", "__pycache__", "node_modules", ".hidden"):
        (project / skipped).mkdir()
        (project / skipped / "x.py").write_text("x = 1\n")
    files = Workspace(project).list_files()
    assert "main.py" in files
    assert "tests/test_utils.py" in files
    assert not [
        f for f in files if f.split("/")[0] in {".git", "__pycache__", "node_modules", ".hidden"}
    ]
    assert Workspace(project, max_files=2).list_files() == files[:2]
    assert Workspace(project).list_files("main.py") == ["main.py"]
    assert Workspace(project).list_files(".", ["test_*.py"]) == ["tests/test_utils.py"]


def test_read_is_bounded_and_search_finds_lines(project: Path) -> None:
    """Reads stop at max_file_bytes; search returns file, line and text; a bad regex names it."""
    assert len(Workspace(project, max_file_bytes=10).read_text("main.py")) == 10
    ws = Workspace(project)
    hits = ws.search(r"\bslugify\b", ws.list_files())
    assert {h["file"] for h in hits} == {"main.py", "utils.py", "tests/test_utils.py"}
    assert ws.search("slugify", ["utils.py"], max_matches=1) == [
        {"file": "utils.py", "line": 1, "text": "def slugify(text):"}
    ]
    with pytest.raises(ValueError, match=r"^pattern: "):
        ws.search("(", ["main.py"])


def test_parse_python_reports_functions_classes_imports_todos() -> None:
    """Functions carry length, complexity and docstring flags; TODOs and imports are found."""
    module = parse_python(
        '"""Doc."""\nimport os\nfrom a.b import c\nfrom . import rel\n\n'
        "def f(x):\n    '''Doc.'''\n    if x and x > 1:\n        return [i for i in x]\n"
        "    return None  # TODO: tidy\n\n"
        "class _Hidden:\n    def m(self):\n        pass\n"
    )
    assert module.docstring
    assert module.imports == ["os", "a.b"]
    f = next(fn for fn in module.functions if fn["name"] == "f")
    assert f["docstring"]
    assert f["lines"] == 5
    assert f["complexity"] == 4
    assert f["public"]
    assert module.classes[0]["public"] is False
    assert module.todos == [{"line": 10, "tag": "TODO", "text": "tidy"}]
    assert parse_python("def (:\n").syntax_error is not None


def test_count_lines_and_languages() -> None:
    """Blank, comment and code lines are counted; languages come from extensions."""
    assert count_lines("a = 1\n\n# c\n// d\n") == {"total": 4, "blank": 1, "comment": 2, "code": 1}
    assert language_of("x/y.PY") == "Python"
    assert language_of("Makefile") is None


def test_hide_paths_leaves_no_absolute_server_path(tmp_path: Path) -> None:
    """Workspace paths become relative, package and stdlib paths keep their package part,
    anything else its last name; URLs are left alone."""
    import omniclaude.runtime.context as context_module

    workspace = Workspace(tmp_path)
    source = Path(context_module.__file__).resolve()
    text = (
        f"[Errno 2] No such file or directory: '{tmp_path}/a/b.py'\n"
        f'File "{source}", line 1\n'
        'File "/usr/lib/python3.11/asyncio/tasks.py", line 2\n'
        'File "/opt/venv/lib/python3.11/site-packages/re2/__init__.py", line 3\n'
        "see http://host/api/x and /etc/secret.conf in " + str(tmp_path)
    )
    hidden = workspace.hide_paths(text)
    assert "'a/b.py'" in hidden
    assert '"omniclaude/runtime/context.py"' in hidden
    assert '"python/asyncio/tasks.py"' in hidden
    assert '"re2/__init__.py"' in hidden
    assert "http://host/api/x" in hidden
    assert "…/secret.conf" in hidden
    for server in (str(tmp_path), "/usr/lib", "/opt/venv", "/etc", str(source.parent)):
        assert server not in hidden, f"{server} leaked: {hidden}"
