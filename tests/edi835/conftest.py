"""Shared helpers for the edi835 tests: fixture paths and the shared real-world samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import edi835

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_samples_dir() -> Path:
    """``shared/edi835-samples`` next to the repository, or under ``$MENTALSPACE_SHARED_DIR``."""
    env = os.environ.get("MENTALSPACE_SHARED_DIR")
    if env:
        return Path(env) / "edi835-samples"
    return Path(__file__).resolve().parents[2].parent / "shared" / "edi835-samples"


def fixture_path(name: str) -> Path:
    return FIXTURES / name


def parse_fixture(name: str) -> edi835.ParseResult:
    return edi835.parse_file(fixture_path(name))


@pytest.fixture
def samples_dir() -> Path:
    path = shared_samples_dir()
    if not (path / "golden.json").exists():
        pytest.skip(f"shared 835 samples not found at {path}")
    return path
