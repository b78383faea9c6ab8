"""What every part of `servekit bench` shares: the hard limits, the example folder and its error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = ROOT / "examples"

# Nothing a user types can make a run unbounded: these cap every option.
HARD_LIMITS = {
    "duration_s": 600.0,  # per step
    "requests": 1_000_000,  # per step
    "concurrency": 1024,
    "rate": 10_000.0,  # requests per second
    "steps": 64,  # steps x payloads x sweep values
    "total_s": 4 * 3600.0,  # the whole run
    "timeout_s": 600.0,  # per request
}
DEFAULT_IMAGE_SHAPE = (1, 3, 224, 224)
ERROR_SAMPLE_CHARS = 300

SignFn = Callable[[str, bytes, dict[str, str]], dict[str, str]]
ProgressFn = Callable[[str, int, int, float], None]  # phase, ok, errors, elapsed seconds


class BenchError(Exception):
    """A run that cannot start as asked; the message says what to change."""
