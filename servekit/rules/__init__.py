"""Rules: pure functions from a deployment's settings (and servekit.facts) to problems, called alike by
`servekit validate`, by synth and by the constructs when they are used without servekit.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Problem:
    """One thing SageMaker would refuse (severity error) or that servekit cannot vouch for (warning)."""

    field: str
    value: object
    fix: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.field}: {self.value!r}: {self.fix}" if self.value is not None else f"{self.field}: {self.fix}"
