"""The code a run ran: ``summary.json``'s ``code`` block (package version and git commit).

A leaderboard row pools runs made on different days, and a number is only as trustworthy
as the code that made it. The block names the TeachBench version and the git commit of the
checkout the process imported its code from, read when this module is first imported (the
process start, for a run): a worker process that outlives a ``git pull`` or a merge keeps
the code it loaded, and its runs then say so by naming the old commit, where the commit at
write time would hide it. Like the host block (``experiments/host.py``) it is not part of
the config id: the same config on other code is the same experiment, made again.

The commit is read from the ``.git`` files (``HEAD``, the branch's ref or ``packed-refs``;
a worktree's ``.git`` file and ``commondir`` are followed), with no subprocess: ``None``
where the code does not sit in a git checkout (an installed wheel). Uncommitted edits are
not seen; ``dirty`` is not recorded because reading it needs ``git status``.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[1]  # the checkout holding experiments/
_SHA = re.compile(r"^[0-9a-f]{40}$")


def code_info(root: Path = _ROOT) -> dict[str, Any]:
    """``{version, commit, branch}`` of the checkout at ``root`` (commit/branch None
    outside git; branch None on a detached HEAD)."""
    commit, branch = _git_head(root)
    return {"version": _package_version(), "commit": commit, "branch": branch}


def _package_version() -> str | None:
    try:
        return version("teachbench")
    except PackageNotFoundError:
        return None


def _git_dir(root: Path) -> Path | None:
    """``root/.git``, or where a worktree's ``.git`` file points."""
    dot = root / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():
        match = re.match(r"gitdir:\s*(.+)", dot.read_text(encoding="utf-8", errors="replace").strip())
        if match:
            target = Path(match.group(1))
            return target if target.is_absolute() else (root / target).resolve()
    return None


def _git_head(root: Path) -> tuple[str | None, str | None]:
    try:
        gitdir = _git_dir(root)
        if gitdir is None:
            return None, None
        head = (gitdir / "HEAD").read_text(encoding="utf-8").strip()
        if _SHA.match(head):  # detached
            return head, None
        match = re.match(r"ref:\s*(refs/\S+)", head)
        if not match:
            return None, None
        ref = match.group(1)
        common = gitdir
        if (gitdir / "commondir").is_file():  # a linked worktree keeps refs in the main .git
            common = (gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
        branch = ref.removeprefix("refs/heads/")
        for base in (gitdir, common):
            loose = base / ref
            if loose.is_file():
                sha = loose.read_text(encoding="utf-8").strip()
                return (sha if _SHA.match(sha) else None), branch
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == ref and _SHA.match(parts[0]):
                    return parts[0], branch
        return None, branch  # a branch with no commit yet
    except OSError:  # an unreadable checkout must never fail a finished run
        return None, None


LOADED: dict[str, Any] = code_info()
"""The code this process imported, read once at its import."""

__all__ = ["LOADED", "code_info"]
