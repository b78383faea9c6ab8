"""The echo artifact: echo.json (the model's name and greeting) at the archive root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from servekit.model_build import builder
from servekit.model_build.archive import Content, FileHasher


def plan(ep: Any, hasher: FileHasher) -> builder.Plan:
    model = {"name": ep.model.name, "greeting": ep.model.greeting}

    def materialize(work: Path, say: builder.Progress) -> dict[str, Content]:
        say("writing echo.json")
        return {"echo.json": (json.dumps(model, sort_keys=True) + "\n").encode()}

    return builder.Plan(builder.plan_identity({"server": "echo", "model": model}), materialize, ep.model.name)
