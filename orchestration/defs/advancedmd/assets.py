"""AdvancedMD -> raw_advancedmd: incremental syncs driven by the watermark, daily partitions for backfills.

Every AdvancedMD step fetches first and lands after (``ingest.advancedmd.sync.FetchFirst``): the
warehouse is opened only once the API work is done, for one short transaction, so a slow or unreachable
AdvancedMD never keeps the DuckDB file locked against the dashboards and dbt.

The asset layer stays thin: the API work lives in ``ingest.advancedmd`` (client, ``sync_*``), the
warehouse writes in ``landing.WarehouseSink``. Watermarks live in the operational store's
``ingest_watermarks`` table (per office key and entity), the patient links in its
``advancedmd_patients`` table. Metadata carries counts, never record contents.

Two ways into the same raw visits/charges tables, on purpose:

* ``advancedmd/visit_updates`` (every 15 minutes): getupdatedvisits from the watermark, upserting
  what changed; on its first run it makes the vendor's initial load (getdatevisits per day);
* ``advancedmd/visits`` + ``advancedmd/charges`` (daily partitions by date of service): one
  getdatevisits per day, replacing that day; backfills and the nightly re-read of yesterday.
"""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import polars as pl
from sqlalchemy import bindparam, select, update

from ingest.advancedmd.claimstatus import MAX_VISITS_PER_RUN, visit_claim_statuses, visits_due
from ingest.advancedmd.demographics import push_demographics
from ingest.advancedmd.errors import AmdFaultError, EligibilityTimeoutError
from ingest.advancedmd.linking import client_id_from_chart
from ingest.advancedmd.sync import FetchFirst, SyncResult, sync_patients, sync_visits
from ingest.advancedmd.watermarks import SqlWatermarkStore
from mentalspace_platform.environment import current_environment
from mentalspace_platform.landing.advancedmd import RAW_SCHEMA, WarehouseSink
from mentalspace_platform.warehouse import Warehouse
from operational_api.export import adult_age_years
from operational_api.models import AdvancedMDPatient, AdvancedMDSyncStatus, Client
from orchestration.defs.advancedmd.charges_out import (
    group_amd_visits,
    pending_visits,
    submit_charges,
    system_of_record,
)
from orchestration.defs.advancedmd.checks import landing_check_results, landing_check_specs
from orchestration.defs.advancedmd.keys import (
    CHARGE_SUBMISSIONS,
    CHARGES,
    CLAIMS,
    DEMOGRAPHICS_OUT,
    ELIGIBILITY,
    GROUP,
    INSURANCE,
    LANDING_TABLES,
    PATIENT_LINKS,
    PATIENTS,
    POOL,
    PROVIDER_LINKS,
    SETUP_GROUP,
    TRANSACTIONS,
    VISIT_UPDATES,
    VISITS,
)
from orchestration.defs.advancedmd.locks import SYNC_WAIT_SECONDS, office_lock
from orchestration.defs.advancedmd.partitions import ADVANCEDMD_DAYS
from orchestration.defs.advancedmd.provider_links import link_providers, provider_codes
from orchestration.defs.advancedmd.resources import AdvancedMDResource
from orchestration.lib.resources import OperationalStoreResource, WarehouseResource

KINDS = {"advancedmd"}


def watermark_store(store: OperationalStoreResource) -> SqlWatermarkStore:
    """The store's ``ingest_watermarks`` table (created by migration 0004, never by the sync)."""
    return SqlWatermarkStore(store.engine(), create=False)


def _sync_metadata(result: SyncResult, sink: WarehouseSink, *entities: str) -> dict[str, object]:
    return {
        "mode": result.mode,
        "records": result.records,
        "http_requests": result.http_requests,
        "watermark_advanced": result.watermark_after != result.watermark_before,
        **sink.stats.metadata(*entities),
    }


def _placeholder(wh: Warehouse) -> str:
    return "?" if wh.kind == "duckdb" else "%s"


@contextmanager
def _taking_turns(store: OperationalStoreResource, office_key: str, purpose: str) -> Iterator[None]:
    """Wait for this office key's other ``purpose`` step to finish (``locks.py`` says why); fail after
    ``SYNC_WAIT_SECONDS`` rather than queue behind a stuck run."""
    with office_lock(store.engine(), office_key, purpose, wait_seconds=SYNC_WAIT_SECONDS) as held:
        if not held:
            raise dg.Failure(
                f"another AdvancedMD {purpose} step of office {office_key} has run for over "
                f"{SYNC_WAIT_SECONDS // 60} minutes; this run changed nothing"
            )
        yield


def _visit_sink(
    context: dg.AssetExecutionContext, wh: Warehouse, store: OperationalStoreResource
) -> WarehouseSink:
    """A sink for visits or patients: it lands each visit's minor flag by the store's MINOR_CONSENT rule, the
    rule the store's appointments are exported with."""
    age = adult_age_years(store.engine(), "land AdvancedMD visits")
    return WarehouseSink(wh, run_id=context.run.run_id, adult_age_years=age)


# ------------------------------------------------------------------------------------ setup


@dg.asset(key=LANDING_TABLES, group_name=SETUP_GROUP, kinds=KINDS)
def advancedmd_landing_tables(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Empty raw_advancedmd tables, so the warehouse builds before the first AdvancedMD sync."""
    with warehouse.writing() as wh, WarehouseSink(wh) as sink:
        created = sink.ensure_tables()
    return dg.MaterializeResult(metadata={"tables_created": created, "schema": RAW_SCHEMA})


# ------------------------------------------------------------------------------------ patients


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            PATIENTS,
            group_name=GROUP,
            kinds=KINDS,
            description="One row per AdvancedMD patient: ids, chart number, codes and completeness flags "
            "(no names, birth dates or contact details).",
        ),
        dg.AssetSpec(
            INSURANCE,
            group_name=GROUP,
            kinds=KINDS,
            description="One row per insurance coverage of an AdvancedMD patient (no member or group numbers).",
        ),
    ],
    check_specs=[*landing_check_specs(PATIENTS, "patients"), *landing_check_specs(INSURANCE, "insurance")],
    pool=POOL,
)
def advancedmd_patients(
    context: dg.AssetExecutionContext,
    advancedmd: AdvancedMDResource,
    store: OperationalStoreResource,
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult]:
    """Patients and coverages changed since the watermark (getupdatedpatients); the first run is the
    vendor's initial load (lookuppatient pages + getdemographic per patient)."""
    with _taking_turns(store, advancedmd.office_key, "patients"):
        fetched = FetchFirst(watermark_store(store))
        with advancedmd.connect() as amd:
            result = sync_patients(amd.client, fetched, fetched)
        with warehouse.writing() as wh, _visit_sink(context, wh, store) as sink:
            fetched.commit(sink)
            rows = {
                entity: sink.row_count(entity, advancedmd.office_key) for entity in ("patients", "insurance")
            }
    context.log.info(
        f"advancedmd patients ({result.mode}): {result.records} records, {result.http_requests} requests"
    )
    metadata = _sync_metadata(result, sink, "patients", "insurance")
    yield dg.MaterializeResult(asset_key=PATIENTS, metadata=metadata)
    yield dg.MaterializeResult(asset_key=INSURANCE, metadata=sink.stats.metadata("insurance"))
    yield from landing_check_results(PATIENTS, sink.stats, {"patients": rows["patients"]})
    yield from landing_check_results(INSURANCE, sink.stats, {"insurance": rows["insurance"]})


@dg.asset(key=PATIENT_LINKS, deps=[PATIENTS], group_name=GROUP, kinds={"sqlalchemy"})
def advancedmd_patient_links(
    advancedmd: AdvancedMDResource, store: OperationalStoreResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """One row per AdvancedMD patient in the store's advancedmd_patients, linked to our client by chart number."""
    wh = warehouse.warehouse()
    office_key = advancedmd.office_key
    landed = wh.query(
        f"select patient_id, chart, landed_at from {RAW_SCHEMA}.patients where office_key = {_placeholder(wh)}",
        [office_key],
    )
    engine = store.engine()
    table = AdvancedMDPatient.__table__
    counts = {"linked": 0, "unmatched": 0, "deleted": 0, "inserted": 0, "updated": 0}
    with engine.begin() as conn:
        clients = set(conn.execute(select(Client.id)).scalars())
        existing = {
            row.advancedmd_patient_id: row
            for row in conn.execute(select(table).where(table.c.office_key == office_key))
        }
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        inserts: list[dict[str, object]] = []
        updates: list[dict[str, object]] = []
        for patient_id, chart, landed_at in landed.iter_rows():
            before = existing.get(patient_id)
            from_chart = client_id_from_chart(chart)
            client_id = from_chart if from_chart in clients else None
            error = None
            if client_id is None and before is not None and before.client_id is not None:
                client_id = before.client_id  # linked by a person in the store: keep it
            elif client_id is None:
                error = (
                    "chart number does not name a client" if from_chart is None else "client not in the store"
                )
            status = AdvancedMDSyncStatus.LINKED if client_id is not None else AdvancedMDSyncStatus.UNMATCHED
            counts["linked" if client_id is not None else "unmatched"] += 1
            values = {
                "client_id": client_id,
                "sync_status": str(status),
                "sync_error": error,
                "last_synced_at": landed_at,
            }
            if before is None:
                inserts.append(
                    {
                        "office_key": office_key,
                        "advancedmd_patient_id": patient_id,
                        "created_at": now,
                        "updated_at": now,
                        **values,
                    }
                )
            elif any(getattr(before, k) != v for k, v in values.items()):
                updates.append({"link_id": before.id, "updated_at": now, **values})
        for patient_id in set(existing) - set(landed["patient_id"].to_list()):
            before = existing[patient_id]
            counts["deleted"] += 1
            if before.sync_status != AdvancedMDSyncStatus.DELETED:
                updates.append(
                    {
                        "link_id": before.id,
                        "updated_at": now,
                        "client_id": before.client_id,
                        "sync_status": str(AdvancedMDSyncStatus.DELETED),
                        "sync_error": None,
                        "last_synced_at": before.last_synced_at,
                    }
                )
        if inserts:
            conn.execute(table.insert(), inserts)
        if updates:
            conn.execute(
                update(table)
                .where(table.c.id == bindparam("link_id"))
                .values(
                    client_id=bindparam("client_id"),
                    sync_status=bindparam("sync_status"),
                    sync_error=bindparam("sync_error"),
                    last_synced_at=bindparam("last_synced_at"),
                    updated_at=bindparam("updated_at"),
                ),
                updates,
            )
        counts["inserted"], counts["updated"] = len(inserts), len(updates)
    return dg.MaterializeResult(metadata=counts)


# ------------------------------------------------------------------------------------ visits


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            VISITS,
            group_name=GROUP,
            kinds=KINDS,
            description="One row per AdvancedMD visit (appointment), partitioned by its practice-local date of service.",
        ),
        dg.AssetSpec(
            CHARGES,
            group_name=GROUP,
            kinds=KINDS,
            description="One row per AdvancedMD charge line, partitioned by the date of service of its visit.",
        ),
    ],
    partitions_def=ADVANCEDMD_DAYS,
    # A backfill of any range is one run (one login, one warehouse connection) that replaces the
    # days one by one, each in its own transaction: a failure keeps the days already landed.
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[*landing_check_specs(VISITS, "visits"), *landing_check_specs(CHARGES, "charges")],
    pool=POOL,
)
def advancedmd_visit_days(
    context: dg.AssetExecutionContext,
    advancedmd: AdvancedMDResource,
    store: OperationalStoreResource,
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Replace each date of service in the run's partition range with AdvancedMD's visits and charges
    of that day (one getdatevisits per day)."""
    days = [dt.date.fromisoformat(key) for key in context.partition_keys]
    per_day: dict[str, dict[str, int]] = {}
    # Turns with the incremental visit sync: a day read before its newer landing must not land after it.
    with _taking_turns(store, advancedmd.office_key, "visits"):
        with advancedmd.connect() as amd:
            answers = [amd.client.get_date_visits(day) for day in days]
        with warehouse.writing() as wh, _visit_sink(context, wh, store) as sink:
            _land_days(context, sink, amd.office_key, days, answers, per_day)
            rows = {entity: sink.row_count(entity, amd.office_key) for entity in ("visits", "charges")}
    span = {
        "first_date_of_service": days[0].isoformat(),
        "last_date_of_service": days[-1].isoformat(),
        "days": len(days),
        "per_day": dg.MetadataValue.json(per_day),
    }
    yield dg.MaterializeResult(asset_key=VISITS, metadata={**span, **sink.stats.metadata("visits")})
    yield dg.MaterializeResult(asset_key=CHARGES, metadata={**span, **sink.stats.metadata("charges")})
    yield from landing_check_results(VISITS, sink.stats, {"visits": rows["visits"]})
    yield from landing_check_results(CHARGES, sink.stats, {"charges": rows["charges"]})


def _land_days(context, sink: WarehouseSink, office_key: str, days, answers, per_day: dict) -> None:
    """Replace each day with its getdatevisits answer; per-day counts into ``per_day`` (and the run's log)."""
    for day, answer in zip(days, answers, strict=True):
        before = (sink.stats.landed.copy(), sink.stats.quarantined.copy())
        sink.replace_visit_day(office_key, day, answer.visits, answer.charges)
        counts = {
            "visits": sink.stats.landed["visits"] - before[0]["visits"],
            "charges": sink.stats.landed["charges"] - before[0]["charges"],
            "quarantined": sum(sink.stats.quarantined.values()) - sum(before[1].values()),
        }
        per_day[day.isoformat()] = counts
        context.log.info(
            f"{day}: {counts['visits']} visits, {counts['charges']} charges, "
            f"{counts['quarantined']} quarantined"
        )


class VisitSyncConfig(dg.Config):
    """The window of the initial visit load (used only while there is no visit watermark yet)."""

    initial_days_back: int = 30
    initial_days_ahead: int = 30
    initial_start: str = ""  # YYYY-MM-DD; overrides initial_days_back
    initial_end: str = ""  # YYYY-MM-DD; overrides initial_days_ahead


@dg.asset(
    key=VISIT_UPDATES,
    group_name=GROUP,
    kinds=KINDS,
    pool=POOL,
    check_specs=landing_check_specs(VISIT_UPDATES, "visits", "charges"),
)
def advancedmd_visit_updates(
    context: dg.AssetExecutionContext,
    config: VisitSyncConfig,
    advancedmd: AdvancedMDResource,
    store: OperationalStoreResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """One row per incremental visit sync: visits and charges changed since the watermark
    (getupdatedvisits) applied to raw_advancedmd.visits and charges; N/C upserted, D deleted with
    their charges. The first run is the initial load of the configured window (getdatevisits per day)."""
    with _taking_turns(store, advancedmd.office_key, "visits"):
        fetched = FetchFirst(watermark_store(store))
        with advancedmd.connect() as amd:
            today = amd.today()
            start = (
                dt.date.fromisoformat(config.initial_start)
                if config.initial_start
                else today - dt.timedelta(days=config.initial_days_back)
            )
            end = (
                dt.date.fromisoformat(config.initial_end)
                if config.initial_end
                else today + dt.timedelta(days=config.initial_days_ahead)
            )
            result = sync_visits(amd.client, fetched, fetched, initial_start=start, initial_end=end)
        with warehouse.writing() as wh, _visit_sink(context, wh, store) as sink:
            fetched.commit(sink)
            rows = {entity: sink.row_count(entity, amd.office_key) for entity in ("visits", "charges")}
    if result.mode == "initial":
        # The initial load read whole days: those partitions are as good as a backfill of them.
        keys = set(ADVANCEDMD_DAYS.get_partition_keys())
        day = start
        while day <= end:
            if day.isoformat() in keys:
                for key in (VISITS, CHARGES):
                    context.log_event(
                        dg.AssetMaterialization(
                            asset_key=key,
                            partition=day.isoformat(),
                            metadata={"loaded_by": "initial visit load"},
                        )
                    )
            day += dt.timedelta(days=1)
    context.log.info(
        f"advancedmd visits ({result.mode}): {result.records} records, {result.http_requests} requests"
    )
    metadata = _sync_metadata(result, sink, "visits", "charges")
    if result.mode == "initial":
        metadata.update(initial_start=start.isoformat(), initial_end=end.isoformat())
    return dg.MaterializeResult(
        metadata=metadata, check_results=landing_check_results(VISIT_UPDATES, sink.stats, rows)
    )


# ------------------------------------------------------------------------------------ eligibility


class EligibilityConfig(dg.Config):
    """Which coverages to verify: primary, active coverages of patients with visits coming up."""

    days_ahead: int = 2
    max_checks: int = 400


@dg.asset(
    key=ELIGIBILITY,
    deps=[INSURANCE, VISITS],
    group_name=GROUP,
    kinds=KINDS,
    pool=POOL,
    check_specs=landing_check_specs(ELIGIBILITY, "eligibility"),
)
def advancedmd_eligibility(
    context: dg.AssetExecutionContext,
    config: EligibilityConfig,
    advancedmd: AdvancedMDResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """One row per eligibility (270/271) check of a patient's primary coverage before an upcoming visit."""
    wh = warehouse.warehouse()
    ph = _placeholder(wh)
    results = []
    errors = 0
    with advancedmd.connect() as amd:
        today = amd.today()
        pairs = wh.query(
            f"""
            select distinct visits.patient_id, insurance.insurance_id
            from {RAW_SCHEMA}.visits as visits
            inner join {RAW_SCHEMA}.insurance as insurance
                on visits.office_key = insurance.office_key and visits.patient_id = insurance.patient_id
            where visits.office_key = {ph} and visits.visit_date between {ph} and {ph}
                and visits.appt_status = 0 and insurance.active and insurance.sequence = 1
            order by 1, 2
            limit {int(config.max_checks)}
            """,
            [amd.office_key, today, today + dt.timedelta(days=config.days_ahead)],
        )
        for patient_id, coverage_id in pairs.iter_rows():
            try:
                results.append(amd.client.check_eligibility(patient_id, coverage_id))
            except (AmdFaultError, EligibilityTimeoutError) as exc:
                errors += 1
                context.log.warning(
                    f"eligibility of patient {patient_id} coverage {coverage_id}: {type(exc).__name__}"
                )
    # Staged only for the landing: the checks above, rate-limited, hold no lock while they wait.
    with warehouse.writing() as landing, WarehouseSink(landing, run_id=context.run.run_id) as sink:
        sink.land_eligibility(amd.office_key, results)
        rows = {"eligibility": sink.row_count("eligibility", amd.office_key)}
    by_status: dict[str, int] = {}
    for r in results:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    return dg.MaterializeResult(
        metadata={
            "coverages": pairs.height,
            "checked": len(results),
            "errors": errors,
            **{f"status_{k.lower()}": v for k, v in sorted(by_status.items())},
            **sink.stats.metadata("eligibility"),
        },
        check_results=landing_check_results(ELIGIBILITY, sink.stats, rows),
    )


# ------------------------------------------------------------------------------------ payments and write-offs


class TransactionsConfig(dg.Config):
    """Whose financial history to re-read: patients with a visit in the last ``days_back`` days."""

    days_back: int = 30


@dg.asset(
    key=TRANSACTIONS,
    deps=[VISIT_UPDATES],
    group_name=GROUP,
    kinds=KINDS,
    pool=POOL,
    check_specs=landing_check_specs(TRANSACTIONS, "transactions"),
)
def advancedmd_transactions(
    context: dg.AssetExecutionContext,
    config: TransactionsConfig,
    advancedmd: AdvancedMDResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """One row per payment or write-off (gettxhistory) of patients with recent visits, each patient's history
    replaced whole. One tier-2 call per patient and page of 100 charges: run it off-peak."""
    wh = warehouse.warehouse()
    ph = _placeholder(wh)
    with advancedmd.connect() as amd:
        since = amd.today() - dt.timedelta(days=config.days_back)
        patients = [
            int(r[0])
            for r in wh.query(
                f"select distinct patient_id from {RAW_SCHEMA}.visits where office_key = {ph}"
                f" and visit_date >= {ph} order by 1",
                [amd.office_key, since],
            ).iter_rows()
        ]
        transactions = [tx for pid in patients for tx in amd.client.iter_tx_history(pid)]
    # Staged only for the landing: the rate-limited calls above hold no lock while they wait.
    with warehouse.writing() as landing, WarehouseSink(landing, run_id=context.run.run_id) as sink:
        sink.replace_transactions(advancedmd.office_key, patients, transactions)
        rows = {"transactions": sink.row_count("transactions", advancedmd.office_key)}
    return dg.MaterializeResult(
        metadata={"patients": len(patients), **sink.stats.metadata("transactions")},
        check_results=landing_check_results(TRANSACTIONS, sink.stats, rows),
    )


# ------------------------------------------------------------------------------------ claim status


class ClaimStatusConfig(dg.Config):
    """Whose claims to re-read: visits with charges and a date of service in the last ``days_back`` days, at most
    ``max_visits`` a run (more are asked in turn over the following nights: ``visits_due``)."""

    days_back: int = 60
    max_visits: int = MAX_VISITS_PER_RUN


@dg.asset(
    key=CLAIMS,
    deps=[VISIT_UPDATES],
    group_name=GROUP,
    kinds=KINDS,
    pool=POOL,
    check_specs=landing_check_specs(CLAIMS, "claims"),
)
def advancedmd_claims(
    context: dg.AssetExecutionContext,
    config: ClaimStatusConfig,
    advancedmd: AdvancedMDResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """One row per claim of a recent visit as AdvancedMD's 277 answers it (category and status code), with the
    date the visit's charges were billed (its submission), each visit's claims replaced whole. Per visit: one
    charge detail (was it billed, to which carrier), and one claim status request when it was; a visit whose
    claims are all finalized (F*) is not asked again. Run it off-peak."""
    with warehouse.writing() as landing, WarehouseSink(landing) as sink:
        sink.ensure_tables()  # a warehouse landed before claim status existed has no claims table yet
    wh = warehouse.warehouse()
    ph = _placeholder(wh)
    with advancedmd.connect() as amd:
        since = amd.today() - dt.timedelta(days=config.days_back)
        visits = wh.query(
            f"""
            select charges.visit_id, min(charges.patient_id) as patient_id, min(charges.charge_id) as charge_id
            from {RAW_SCHEMA}.charges as charges
            where charges.office_key = {ph} and charges.visit_date >= {ph}
                and not exists (
                    select 1 from {RAW_SCHEMA}.claims as claims
                    where claims.office_key = charges.office_key and claims.visit_id = charges.visit_id
                        and substr(claims.category_code, 1, 1) = 'F'
                )
            group by 1
            order by 1
            """,
            [amd.office_key, since],
        )
        open_visits = visits.height
        due = visits_due(visits["visit_id"].to_list(), config.max_visits, amd.today())
        visits = visits.filter(pl.col("visit_id").is_in(due))
        statuses = [
            status
            for visit_id, patient_id, charge_id in visits.iter_rows()
            for status in visit_claim_statuses(amd.client, visit_id, patient_id, charge_id)
        ]
    # Staged only for the landing: the rate-limited calls above hold no lock while they wait.
    with warehouse.writing() as landing, WarehouseSink(landing, run_id=context.run.run_id) as sink:
        sink.replace_claim_statuses(advancedmd.office_key, visits["visit_id"].to_list(), statuses)
        rows = {"claims": sink.row_count("claims", advancedmd.office_key)}
    return dg.MaterializeResult(
        metadata={"visits": visits.height, "open_visits": open_visits, **sink.stats.metadata("claims")},
        check_results=landing_check_results(CLAIMS, sink.stats, rows),
    )


# ------------------------------------------------------------------------------------ provider links


@dg.asset(
    key=PROVIDER_LINKS, deps=[VISIT_UPDATES], group_name=GROUP, kinds={"advancedmd", "sqlalchemy"}, pool=POOL
)
def advancedmd_provider_links(
    advancedmd: AdvancedMDResource, store: OperationalStoreResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """One row per AdvancedMD provider profile with visits, in the store's advancedmd_provider_links: linked to
    a clinician by NPI, else by an administrator's mapping, else UNMATCHED (a data-quality alert downstream)."""
    wh = warehouse.warehouse()
    office_key = advancedmd.office_key
    codes = provider_codes(
        wh.query(
            f"select distinct provider_code from {RAW_SCHEMA}.visits where office_key = {_placeholder(wh)}",
            [office_key],
        ).iter_rows()
    )
    profiles: dict[str, tuple[int | None, str | None]] = {}
    with advancedmd.connect() as amd:
        for code in codes:  # one tier-3 lookup per profile: a practice has tens, not thousands
            profiles[code] = amd.client.lookup_provider_profile(code) or (None, None)
    counts = link_providers(store.engine(), office_key, profiles)
    return dg.MaterializeResult(metadata={"providers": len(codes), **counts})


# ------------------------------------------------------------------------------------ charges out


def _linked_patients(store: OperationalStoreResource, office_key: str) -> dict[int, int]:
    """Client id -> AdvancedMD patient id of the LINKED rows of the store's advancedmd_patients."""
    links_table = AdvancedMDPatient.__table__
    with store.engine().connect() as conn:
        return {
            int(r.client_id): int(r.advancedmd_patient_id)
            for r in conn.execute(
                select(links_table.c.client_id, links_table.c.advancedmd_patient_id).where(
                    links_table.c.office_key == office_key,
                    links_table.c.sync_status == str(AdvancedMDSyncStatus.LINKED),
                )
            )
        }


class ChargeSubmissionConfig(dg.Config):
    """How many visits one run submits at most (one tier-2 savecharges each)."""

    max_visits: int = 500


@dg.asset(
    key=CHARGE_SUBMISSIONS,
    deps=[PATIENT_LINKS, VISIT_UPDATES],
    group_name=GROUP,
    kinds={"advancedmd", "sqlalchemy"},
    pool=POOL,
)
def advancedmd_charge_submissions(
    context: dg.AssetExecutionContext,
    config: ChargeSubmissionConfig,
    advancedmd: AdvancedMDResource,
    store: OperationalStoreResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """One row per store charge in the store's advancedmd_charge_submissions: completed, signed sessions not on
    billing hold, submitted once through savecharges (AdvancedMD's charge ids recorded) or refused (the field
    named). See charges_out.py for the exactly-once rule."""
    engine = store.engine()
    if system_of_record(engine, "billing") != "store":
        context.log.info("billing's system of record is AdvancedMD: charges are entered there, none are sent")
        return dg.MaterializeResult(metadata={"skipped": "billing system of record is advancedmd"})
    tz = current_environment().practice_timezone
    office_key = advancedmd.office_key
    with office_lock(engine, office_key, "charges_out") as mine:
        if not mine:
            context.log.info("another run is submitting this office key's charges: nothing sent by this one")
            return dg.MaterializeResult(metadata={"skipped": "another run is submitting"})
        # Read under the lock, so a run that waited its turn sees the previous run's submissions.
        visits, held = pending_visits(engine, tz, max_visits=config.max_visits)
        wh = warehouse.warehouse()
        ph = _placeholder(wh)
        amd_visits = group_amd_visits(
            wh.query(
                f"select visit_id, patient_id, start_local, provider_code from {RAW_SCHEMA}.visits"
                f" where office_key = {ph}",
                [office_key],
            ).iter_rows()
        )
        links = _linked_patients(store, office_key)
        with advancedmd.connect() as amd:
            counts = submit_charges(amd.client, engine, visits, amd_visits, links, amd.today())
            requests = amd.client.stats.requests_by_action.get("savecharges", 0)
    counts.held_back = held
    context.log.info(
        f"advancedmd charges: {counts.visits_submitted} visits submitted, {counts.visits_refused} refused, "
        f"{held} held back by a billing hold"
    )
    return dg.MaterializeResult(metadata={**counts.metadata(), "savecharges_requests": requests})


# ------------------------------------------------------------------------------------ demographics out


class DemographicsPushConfig(dg.Config):
    """How many writes (updatepatient / updateinsurance, tier 3) one run sends at most."""

    max_pushes: int = 300


@dg.asset(
    key=DEMOGRAPHICS_OUT,
    deps=[PATIENT_LINKS],
    group_name=GROUP,
    kinds={"advancedmd", "sqlalchemy"},
    pool=POOL,
)
def advancedmd_demographics_out(
    context: dg.AssetExecutionContext,
    config: DemographicsPushConfig,
    advancedmd: AdvancedMDResource,
    store: OperationalStoreResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """One row per linked client in the store's advancedmd_demographic_sync: the store's demographic and insurance
    changes pushed (updatepatient / updateinsurance), AdvancedMD's accepted, both-sides changes recorded as
    conflicts for a person (ingest/advancedmd/demographics.py). Metadata holds counts only."""
    office_key = advancedmd.office_key
    wh = warehouse.warehouse()
    ph = _placeholder(wh)
    landed = {
        int(pid): changed_at
        for pid, changed_at in wh.query(
            f"select patient_id, changed_at from {RAW_SCHEMA}.patients where office_key = {ph}", [office_key]
        ).iter_rows()
    }
    coverages: dict[int, dict[int, int]] = {}
    for pid, sequence, insurance_id in wh.query(
        f"select patient_id, sequence, insurance_id from {RAW_SCHEMA}.insurance"
        f" where office_key = {ph} and active and sequence is not null",
        [office_key],
    ).iter_rows():
        coverages.setdefault(int(pid), {})[int(sequence)] = int(insurance_id)
    links = _linked_patients(store, office_key)
    with advancedmd.connect() as amd:
        counts = push_demographics(
            amd.client,
            store.engine(),
            links,
            landed,
            coverages,
            today=amd.today(),
            max_pushes=config.max_pushes,
        )
    context.log.info(
        f"advancedmd demographics: {counts.pushed_patients} clients pushed, {counts.conflicts_new} new conflicts, "
        f"{counts.conflicts_open} open"
    )
    return dg.MaterializeResult(metadata={"linked_clients": len(links), **counts.metadata()})


ASSETS = [
    advancedmd_landing_tables,
    advancedmd_patients,
    advancedmd_patient_links,
    advancedmd_visit_days,
    advancedmd_visit_updates,
    advancedmd_eligibility,
    advancedmd_provider_links,
    advancedmd_charge_submissions,
    advancedmd_transactions,
    advancedmd_claims,
    advancedmd_demographics_out,
]
