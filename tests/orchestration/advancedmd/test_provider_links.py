"""AdvancedMD providers linked to clinicians: by NPI, then by an administrator's mapping; the rest unmatched
and alerted; linked visits carry their clinician into int_appointments_unioned."""

from __future__ import annotations

import dataclasses

import pytest

from tests.orchestration.advancedmd.conftest import (
    UNIONED_APPOINTMENTS,
    AmdWorld,
    dbt,
    land_operational,
    store_rows,
    warehouse_rows,
)


def _links() -> dict[str, tuple]:
    rows = store_rows(
        "select provider_code, clinician_id, link_source, sync_status, npi from advancedmd_provider_links"
    )
    return {r[0]: tuple(r[1:]) for r in rows}


@pytest.mark.parametrize("amd", ["duckdb"], indirect=True)
def test_npi_then_admin_links_and_the_clinician_reaches_the_unioned_visits(amd: AmdWorld, capsys):
    from ingest.advancedmd.simulator.from_practice import PROVIDER_ID_BASE
    from mentalspace_cli.main import main

    ds = amd.ds
    providers = sorted(ds.providers.values(), key=lambda p: p.provider_id)
    assert len(providers) >= 2
    by_npi, by_admin = providers[0], providers[1]
    npi_user, admin_user = by_npi.provider_id - PROVIDER_ID_BASE, by_admin.provider_id - PROVIDER_ID_BASE
    store_rows("update users set npi = '1234567893' where id = :u", u=npi_user)
    ds.providers[by_npi.provider_id] = dataclasses.replace(by_npi, npi="1234567893")

    amd.sync()

    links = _links()
    assert links[by_npi.code] == (npi_user, "NPI", "LINKED", "1234567893")
    assert links[by_admin.code] == (None, None, "UNMATCHED", None)  # reported, not dropped

    assert main(["amd", "link-provider", by_admin.code.lower(), "--clinician", str(admin_user)]) == 0
    assert f"{by_admin.code} -> clinician {admin_user}" in capsys.readouterr().out
    amd.advance(5)
    amd.sync()  # the next sync keeps the administrator's link

    links = _links()
    assert links[by_admin.code][:3] == (admin_user, "ADMIN", "LINKED")
    assert main(["amd", "link-provider", by_admin.code, "--clinician", "999999"]) == 2  # not a clinician

    land_operational(amd)
    dbt("build", UNIONED_APPOINTMENTS)
    rows = warehouse_rows(
        "select provider_code, clinician_id, count(*) as n from intermediate.int_appointments_unioned"
        " where source_system = 'advancedmd' group by 1, 2"
    )
    got = {(r["provider_code"], r["clinician_id"]) for r in rows}
    expected_clinician = {by_npi.code: npi_user, by_admin.code: admin_user}
    assert got == {(code, expected_clinician.get(code)) for code, _ in got}
    assert {code for code, _ in got} >= {by_npi.code, by_admin.code}
