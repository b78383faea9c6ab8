"""Run the real checkov (in its own .venv-checkov, installed by `make test`) over a cloud assembly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def scan(assembly: Path) -> dict[str, list[dict]]:
    """checkov's CloudFormation checks over every template under `assembly` (nested stage assemblies too),
    offline (--skip-download); returns {"passed": [...], "failed": [...], "skipped": [...]} of checkov's
    result records."""
    assert CHECKOV.is_file(), f"{CHECKOV} is missing; `make test` installs it (make .venv-checkov/.servekit-installed)"
    result = subprocess.run(
        [str(CHECKOV), "-d", str(assembly), "--framework", "cloudformation", "--skip-download", "-o", "json"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-4000:]  # 1: failed checks
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    out: dict[str, list[dict]] = {"passed": [], "failed": [], "skipped": []}
    for report in reports:
        for kind in out:
            out[kind] += report["results"][f"{kind}_checks"]
    return out


def where(record: dict) -> tuple[str, str, str]:
    """(check id, template file name, resource) of one result record."""
    return record["check_id"], Path(record["file_path"]).name, record["resource"]
