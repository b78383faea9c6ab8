"""The echo archive's layout: echo.json at the root, naming the model."""

from __future__ import annotations

from servekit.model_build.layout import Listing


def wraps(listing: Listing, top: str) -> bool:
    return f"{top}/echo.json" in listing.files and "echo.json" not in listing.files


def layout_problems(listing: Listing, default_model_name: str | None, instance_type: str | None) -> list[str]:
    if "echo.json" not in listing.files:
        return ["no echo.json at the archive root; the echo server reads its greeting from it"]
    return []
