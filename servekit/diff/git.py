"""Getting the assemblies: a folder, a git ref (synthesized in a temporary worktree), or the working tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from servekit.diff.assembly import (
    DiffError,
    StackTemplate,
    load_assembly,
)
from servekit.diff.impact import (
    Report,
    compare,
)

WORKING_TREE = "."


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=check)


def repo_root(start: Path) -> Path:
    result = _git(start, "rev-parse", "--show-toplevel", check=False)
    if result.returncode != 0:
        raise DiffError(f"{start}: not inside a git repository, so git refs cannot be synthesized; pass two cdk.out folders")
    return Path(result.stdout.strip())


def is_ref(repo: Path, ref: str) -> bool:
    return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).returncode == 0


def synthesize(source: Path, config: str, output: Path, *, shared_from: Path | None = None,
               progress=None) -> None:  # noqa: ANN001
    """Run that tree's own `servekit synth` into `output`. A worktree borrows the checkout's .venv,
    node_modules and artifact cache (ignored by git, so absent there); the cache is keyed by each artifact's
    identity, so sharing it never mixes models."""
    if shared_from is not None:
        (shared_from / ".servekit").mkdir(exist_ok=True)
        for name in (".venv", "node_modules", ".servekit"):
            target = source / name
            if (shared_from / name).exists() and not target.exists():
                target.symlink_to(shared_from / name, target_is_directory=True)
    python = (shared_from or source) / ".venv" / "bin" / "python"
    command = [str(python if python.exists() else sys.executable), "-m", "servekit.cli", "synth", config,
               "--output", str(output)]
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "20"}
    env.pop("PYTHONPATH", None)  # the tree's own servekit package, not the caller's
    if progress:
        progress(f"synthesizing {source} ({config}) into {output} ...")
    result = subprocess.run(command, cwd=source, capture_output=True, text=True, env=env)
    if result.returncode != 0 or not (output / "manifest.json").is_file():
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise DiffError(f"servekit synth failed in {source} (exit {result.returncode}):\n{tail}")


def resolve(spec: str, *, config: str, workdir: Path, cwd: Path, progress=None) -> tuple[dict[str, StackTemplate], str]:  # noqa: ANN001
    """The stacks of OLD or NEW: a cloud assembly folder as it is; `.` the working tree, synthesized; a git
    ref synthesized in a temporary worktree (removed afterwards)."""
    path = Path(spec)
    if spec != WORKING_TREE and (path / "manifest.json").is_file():
        return load_assembly(path), spec
    repo = repo_root(cwd)
    if spec == WORKING_TREE:
        out = workdir / "working-tree.out"
        synthesize(repo, config, out, progress=progress)
        return load_assembly(out), "working tree"
    if not is_ref(repo, spec):
        raise DiffError(f"{spec!r} is neither a cloud assembly folder (with manifest.json) nor a git ref in {repo}")
    commit = _git(repo, "rev-parse", "--short", f"{spec}^{{commit}}").stdout.strip()
    tree = workdir / f"worktree-{commit}"
    _git(repo, "worktree", "add", "--detach", str(tree), spec)
    try:
        out = workdir / f"{commit}.out"
        synthesize(tree, config, out, shared_from=repo, progress=progress)
        return load_assembly(out), f"{spec} ({commit})"
    finally:
        _git(repo, "worktree", "remove", "--force", str(tree), check=False)
        _git(repo, "worktree", "prune", check=False)


def run(old: str, new: str = WORKING_TREE, *, config: str = "servekit.yaml", cwd: Path | None = None,
        progress=None) -> Report:  # noqa: ANN001
    cwd = cwd or Path.cwd()
    workdir = Path(tempfile.mkdtemp(prefix="servekit-diff-"))
    try:
        old_stacks, old_label = resolve(old, config=config, workdir=workdir, cwd=cwd, progress=progress)
        new_stacks, new_label = resolve(new, config=config, workdir=workdir, cwd=cwd, progress=progress)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return compare(old_stacks, new_stacks, old_label, new_label)
