"""`servekit diff` on real synths of the embedded default (the real CDK CLI, real artifacts):

- one TorchServe variable changed in servekit.yaml: a new fleet for exactly that endpoint, because of that
  variable, and no change for the others;
- the same models rebuilt from scratch (an empty artifact cache, in a copy of the working tree): no change anywhere;
- git refs: HEAD against HEAD, each synthesized in its own temporary `git worktree` (removed afterwards): no change.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVEKIT = [sys.executable, "-m", "servekit.cli"]
pytestmark = pytest.mark.integration
QA_LINE = "servekit-dev-question-answering  fleet replaced — new EndpointConfig, because SAGEMAKER_TS_BATCH_SIZE 1→4"


def run(args: list, cwd: Path = ROOT, timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


def lines_of(output: str) -> dict[str, str]:
    """`name  impact` rows of the report, by name."""
    rows = {}
    for line in output.split("property diff", 1)[0].splitlines():
        if line.startswith("servekit-"):
            name, _, impact = line.partition(" ")
            rows[name] = impact.strip()
    return rows


@pytest.fixture(scope="module")
def default_assembly(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("default") / "cdk.out"
    run([*SERVEKIT, "synth", "servekit.yaml", "--output", out])
    return out


def test_one_changed_variable_replaces_the_fleet_of_that_endpoint_only(default_assembly, tmp_path):
    data = yaml.safe_load((ROOT / "servekit.yaml").read_text())
    next(e for e in data["endpoints"] if e["name"] == "question-answering")["tuning"]["batch_size"] = 4
    changed_config = tmp_path / "servekit.yaml"
    changed_config.write_text(yaml.safe_dump(data, sort_keys=False))
    changed = tmp_path / "cdk.out"
    run([*SERVEKIT, "synth", changed_config, "--output", changed])

    result = run([*SERVEKIT, "diff", default_assembly, changed])
    rows = lines_of(result.stdout)
    assert rows["servekit-dev-question-answering"] == QA_LINE.split("  ", 1)[1]
    assert rows["servekit-dev-image-classifier"] == "no change"
    assert rows["servekit-dev-resnet"] == "no change"
    assert rows["servekit-dev-shared"] == "no change"
    assert "traffic: blue/green canary: 10% of capacity first, bake 300 s, then the rest" in result.stdout
    assert 'PrimaryContainer.Environment.SAGEMAKER_TS_BATCH_SIZE: "1" → "4"' in result.stdout

    markdown = run([*SERVEKIT, "diff", default_assembly, changed, "--format", "markdown"]).stdout
    assert ("| `servekit-dev-question-answering` | **fleet replaced — new EndpointConfig, because "
            "SAGEMAKER_TS_BATCH_SIZE 1→4** |") in markdown
    assert "| `servekit-dev-resnet` | no change |  |" in markdown


def test_models_rebuilt_from_scratch_change_nothing(default_assembly, tmp_path):
    """A copy of the working tree with an empty artifact cache builds every model again (TensorFlow, PyTorch,
    the tokenizer, the Triton layout): the artifacts are byte-identical, so the templates are too."""
    copy = tmp_path / "tree"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    for shared in (".venv", "node_modules"):  # tools only; .servekit (the cache) is not shared
        (copy / shared).symlink_to(ROOT / shared, target_is_directory=True)
    rebuilt = tmp_path / "rebuilt.out"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-m", "servekit.cli", "synth", "servekit.yaml", "--output", str(rebuilt)],
                            cwd=copy, capture_output=True, text=True, timeout=1800, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    built = sorted((copy / ".servekit" / "cache").glob("*/model.tar.gz"))
    assert len(built) == 3, f"the copy must build the three models into its own cache, built {built}"

    report = run([*SERVEKIT, "diff", default_assembly, rebuilt]).stdout
    assert set(lines_of(report).values()) == {"no change"}, report
    assert "property diff: none" in report


def test_git_refs_are_synthesized_in_temporary_worktrees_that_are_removed(tmp_path):
    before = run(["git", "worktree", "list", "--porcelain"]).stdout
    result = run([*SERVEKIT, "diff", "HEAD", "HEAD"])
    rows = lines_of(result.stdout)
    assert rows and set(rows.values()) == {"no change"}, result.stdout
    assert result.stdout.startswith("servekit diff: HEAD (")
    assert "synthesizing" in result.stderr and "worktree-" in result.stderr
    assert run(["git", "worktree", "list", "--porcelain"]).stdout == before, "the temporary worktrees must be removed"


def test_a_folder_that_is_not_an_assembly_nor_a_ref_is_one_line_and_exit_2(tmp_path):
    result = subprocess.run([*SERVEKIT, "diff", "no-such-ref-or-folder", str(tmp_path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert "neither a cloud assembly folder (with manifest.json) nor a git ref" in result.stderr
    assert "Traceback" not in result.stderr


def test_with_a_pipeline_block_the_app_adds_the_pipeline_and_diff_reads_its_stages(default_assembly, tmp_path):
    """app.py wiring through the real CLI: the same endpoints, plus the pipeline stack and a nested assembly per
    environment; `servekit diff` reads the stages' stacks as new endpoints."""
    data = yaml.safe_load((ROOT / "servekit.yaml").read_text())
    data["pipeline"] = {
        "connection_arn": "arn:aws:codeconnections:us-east-1:111111111111:connection/0a1b2c3d-0000-4000-8000-000000000000",
        "repository": {"owner": "acme", "name": "models"},
        "environments": [{"name": "staging", "account": "111111111111", "region": "us-east-1"},
                         {"name": "prod", "account": "111111111111", "region": "us-east-1"}]}
    # Inside the repository (the pipeline synthesizes a file it checks out), in the ignored .servekit/ folder.
    config = ROOT / ".servekit" / f"test-pipeline-{os.getpid()}.yaml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        out = tmp_path / "cdk.out"
        run([*SERVEKIT, "synth", config.relative_to(ROOT), "--output", out])
        pipeline = (out / "servekit-pipeline.template.json").read_text()
        assert f"make synth CONFIG=.servekit/{config.name}" in pipeline
        assert (out / "assembly-servekit-pipeline-prod" / "manifest.json").is_file()
        report = run([*SERVEKIT, "diff", default_assembly, out]).stdout
        rows = lines_of(report)
        for env in ("staging", "prod"):
            for endpoint in ("image-classifier", "question-answering", "resnet"):
                assert rows[f"servekit-{env}-{endpoint}"] == "new endpoint"
        assert {rows[f"servekit-dev-{e}"] for e in ("image-classifier", "question-answering", "resnet")} == {"no change"}
        assert rows["servekit-pipeline"] == "new stack"

        from servekit_checkov import scan, where  # the pipeline and its stages' stacks pass checkov too

        found = scan(out)
        assert found["failed"] == [], [where(r) for r in found["failed"]]
        assert {where(r)[0] for r in found["skipped"]} == {"CKV_AWS_18", "CKV_AWS_111", "CKV_AWS_370"}

        outside = tmp_path / "servekit.yaml"
        outside.write_text(config.read_text())
        result = subprocess.run([*SERVEKIT, "synth", str(outside), "--output", str(tmp_path / "o2")], cwd=ROOT,
                                capture_output=True, text=True, timeout=900)
        assert result.returncode != 0
        assert "pipeline: the config " in result.stderr and "is outside the repository" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        config.unlink()
