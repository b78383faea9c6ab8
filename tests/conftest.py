"""Shared fixtures: the embedded default config, as data to modify per test."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# jsii prints a banner per process on Node 20 (past its end of life, the Node this project's machines have).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "20")


@pytest.fixture
def default_config_data() -> dict:
    """servekit.yaml (the embedded default) as a dict: a valid config each test bends one way."""
    return copy.deepcopy(yaml.safe_load((ROOT / "servekit.yaml").read_text()))
