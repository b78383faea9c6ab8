"""Where a fact comes from (every fact table of servekit.facts names one per fact)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """Where a fact comes from. `confirmed`: read on that page or file, not inferred or remembered."""

    where: str
    confirmed: bool = True
