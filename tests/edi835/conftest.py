"""Shared helpers for the edi835 tests: fixture paths and the shared real-world samples."""

from __future__ import annotations

from pathlib import Path

import pytest

import edi835
from tests.conftest import EDI835_SAMPLES, NO_SHARED_SAMPLES

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_samples_dir() -> Path:
    """``shared/edi835-samples`` next to the repository, or under ``$MENTALSPACE_SHARED_DIR``."""
    return EDI835_SAMPLES


def fixture_path(name: str) -> Path:
    return FIXTURES / name


def parse_fixture(name: str) -> edi835.ParseResult:
    return edi835.parse_file(fixture_path(name))


@pytest.fixture
def samples_dir() -> Path:
    path = shared_samples_dir()
    if not (path / "golden.json").exists():
        pytest.skip(NO_SHARED_SAMPLES)
    return path
