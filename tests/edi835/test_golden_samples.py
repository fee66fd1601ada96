"""Every real-world sample in shared/edi835-samples summarises exactly as golden.json says."""

from __future__ import annotations

import io
import json

import pytest

import edi835
from edi835.cli import main
from tests.conftest import NO_SHARED_SAMPLES, needs_shared_samples
from tests.edi835.conftest import shared_samples_dir

# One skip with one reason for the whole module, rather than an "empty parameter set" per test.
pytestmark = needs_shared_samples


def _sample_names() -> list[str]:
    golden = shared_samples_dir() / "golden.json"
    if not golden.exists():
        return []
    return sorted(json.loads(golden.read_text()))


@pytest.fixture(scope="module")
def golden() -> dict:
    path = shared_samples_dir() / "golden.json"
    if not path.exists():
        pytest.skip(NO_SHARED_SAMPLES)
    return json.loads(path.read_text())


def test_every_sample_file_has_a_golden_entry(samples_dir, golden):
    files = {p.name for p in samples_dir.iterdir() if p.suffix == ".edi"}
    assert files == set(golden)


@pytest.mark.parametrize("name", _sample_names())
def test_summary_equals_golden_entry(name, golden, samples_dir):
    result = edi835.parse_file(samples_dir / name)
    assert result.summary() == golden[name]


@pytest.mark.parametrize("name", _sample_names())
def test_cli_json_equals_golden_entry(name, golden, samples_dir):
    out = io.StringIO()
    assert main(["parse", str(samples_dir / name), "--json"], stdout=out) == 0
    assert json.loads(out.getvalue()) == {name: golden[name]}


@pytest.mark.parametrize("name", _sample_names())
def test_tables_agree_with_golden_totals(name, golden, samples_dir):
    result = edi835.parse_file(samples_dir / name)
    totals = golden[name]["totals"]
    assert result.claims.height == totals["clp_count"]
    assert result.service_lines.height == totals["svc_count"]
    assert result.provider_adjustments["segment_position"].n_unique() == totals["plb_count"]
    assert result.adjustments["segment_position"].n_unique() == totals["cas_segment_count"]
    assert float(result.adjustments["adjustment_amount"].sum() or 0) == pytest.approx(
        totals["cas_amount_sum"]
    )
    assert float(result.claims["paid_amount"].sum() or 0) == pytest.approx(totals["clp04_sum"])


@pytest.mark.parametrize("name", _sample_names())
def test_typed_records_agree_with_tables(name, samples_dir):
    result = edi835.parse_file(samples_dir / name)
    claims = [c for t in result.transactions for c in t.claims]
    lines = [s for c in claims for s in c.service_lines]
    assert len(claims) == result.claims.height
    assert len(lines) == result.service_lines.height
    assert sum((c.paid_amount or 0) for c in claims) == (result.claims["paid_amount"].sum() or 0)
    assert [c.segment_position for c in claims] == result.claims["claim_id"].to_list()
    assert [t.is_balanced for t in result.transactions] == result.remittances["is_balanced"].to_list()
