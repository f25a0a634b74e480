"""``security-scanner``: risky calls and hard-coded secrets, by file and line."""

from __future__ import annotations

import ast
import re
from typing import Any

from omniclaude.runtime.agents._common import CHUNK, list_files, target_path
from omniclaude.runtime.context import AgentContext
from omniclaude.runtime.workspace import Workspace, language_of

__all__ = ["RULES", "run", "scan_python", "scan_text"]

RULES: dict[str, tuple[str, str]] = {
    "eval": ("high", "eval() runs arbitrary code"),
    "exec": ("high", "exec() runs arbitrary code"),
    "pickle": ("high", "unpickling untrusted data runs arbitrary code"),
    "shell": ("high", "a shell command line is open to injection"),
    "yaml-load": ("medium", "yaml.load without a safe loader can build arbitrary objects"),
    "tls-verify": ("medium", "TLS certificate verification is disabled"),
    "weak-hash": ("low", "MD5/SHA-1 are not collision resistant"),
    "hardcoded-secret": ("high", "a password, token or key is written in the source"),
    "private-key": ("high", "a private key block is committed"),
    "aws-key": ("high", "an AWS access key id is committed"),
}
"""rule → (severity, why it matters)."""

_SECRET_NAME = re.compile(r"(pass(word|wd)?|secret|token|api_?key|private_?key|credential)", re.I)
_PRIVATE_KEY = re.compile(r"-----BEGIN (RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----")
_AWS_KEY = re.compile(r"\bAKIA[0-9A-Z]{16}\b")
_TEXT_SUFFIXES = (
    ".py",
    ".env",
    ".cfg",
    ".ini",
    ".yaml",
    ".yml",
    ".toml",
    ".json",
    ".txt",
    ".pem",
    ".sh",
)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _call_rule(call: ast.Call) -> str | None:  # noqa: PLR0911 - one return per rule
    name = _dotted(call.func)
    last = name.rsplit(".", 1)[-1]
    if name in {"eval", "builtins.eval"}:
        return "eval"
    if name in {"exec", "builtins.exec"}:
        return "exec"
    if name in {"pickle.load", "pickle.loads", "cPickle.loads", "marshal.loads", "dill.loads"}:
        return "pickle"
    if name in {"os.system", "os.popen"}:
        return "shell"
    shell = _keyword(call, "shell")
    if name.startswith("subprocess.") and isinstance(shell, ast.Constant) and shell.value is True:
        return "shell"
    if name == "yaml.load" and _keyword(call, "Loader") is None and len(call.args) < 2:
        return "yaml-load"
    verify = _keyword(call, "verify")
    if isinstance(verify, ast.Constant) and verify.value is False:
        return "tls-verify"
    if name in {"hashlib.md5", "hashlib.sha1"} or (
        name.startswith("hashlib.") and last in {"md5", "sha1"}
    ):
        return "weak-hash"
    return None


def scan_python(source: str) -> list[dict[str, Any]]:
    """Return findings (``rule``, ``line``) in Python source; a syntax error yields none."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    findings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (rule := _call_rule(node)):
            findings.append({"rule": rule, "line": node.lineno})
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            if (
                isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and len(value.value) >= 8
            ):
                names = [_dotted(t) for t in targets]
                if any(_SECRET_NAME.search(n) for n in names):
                    findings.append(
                        {"rule": "hardcoded-secret", "line": node.lineno, "name": names[0]}
                    )
    return findings


def scan_text(text: str) -> list[dict[str, Any]]:
    """Return findings of key material in any text (private key blocks, AWS key ids)."""
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        if _PRIVATE_KEY.search(line):
            findings.append({"rule": "private-key", "line": number})
        if _AWS_KEY.search(line):
            findings.append({"rule": "aws-key", "line": number})
    return findings


def _scan(workspace: Workspace, files: list[str]) -> list[dict[str, Any]]:
    findings = []
    for rel in files:
        text = workspace.read_text(rel)
        found = scan_text(text)
        if language_of(rel) == "Python":
            found += scan_python(text)
        for item in found:
            severity, why = RULES[item["rule"]]
            findings.append({"file": rel, **item, "severity": severity, "why": why})
    return findings


async def run(ctx: AgentContext) -> dict[str, Any]:
    """Scan the files under ``context["path"]``; report findings by severity, file and line."""
    files = [f for f in await list_files(ctx, target_path(ctx)) if f.endswith(_TEXT_SUFFIXES)]
    await ctx.decide(f"scan {len(files)} source and config files", rules=sorted(RULES))
    findings: list[dict[str, Any]] = []
    for start in range(0, len(files), CHUNK):
        chunk = files[start : start + CHUNK]
        findings += await ctx.tool(
            "parse_python",
            {"files": len(chunk), "first": chunk[:3]},
            _scan,
            ctx.workspace,
            chunk,
            isolate=True,
            summary=lambda f: {"findings": len(f)},
        )
    by_severity: dict[str, int] = {}
    for finding in findings:
        by_severity[finding["severity"]] = by_severity.get(finding["severity"], 0) + 1
    order = {"high": 0, "medium": 1, "low": 2}
    findings.sort(key=lambda f: (order[f["severity"]], f["file"], f["line"]))
    return {
        "files_scanned": len(files),
        "by_severity": by_severity,
        "findings": findings[:200],
        "summary": (
            f"{len(findings)} findings in {len(files)} files ({by_severity.get('high', 0)} high)"
        ),
    }
