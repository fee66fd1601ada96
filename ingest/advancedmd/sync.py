"""Initial load and incremental sync of patients and visits into a durable sink.

The contract that keeps data exact under retries and crashes:

* the watermark (``servertime`` of the answer) is stored only after ``sink.land()`` has
  returned for every batch of that window, so a crash re-reads the window: at-least-once
  delivery, made exact by sinks that upsert by id and delete idempotently;
* the initial load must not use getupdated* (vendor rule): patients come from paged
  ``lookuppatient`` + ``getdemographic``, visits from ``getdatevisits`` per day; its watermark is
  the server time seen *before* the first record was read, so changes during the load are
  picked up by the first incremental run.

Logs carry office key, counts and ids only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, Protocol, runtime_checkable

from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.clock import Clock
from ingest.advancedmd.records import AmdCharge, AmdPatient, AmdVisit
from ingest.advancedmd.watermarks import WatermarkStore

logger = logging.getLogger("ingest.advancedmd.sync")

PATIENTS = "patients"
VISITS = "visits"
Entity = Literal["patients", "visits"]
Mode = Literal["initial", "incremental"]


@dataclass(frozen=True)
class SyncBatch:
    """A unit the sink must land atomically (one answer, one chunk, one lookup page or one day)."""

    office_key: str
    entity: Entity
    mode: Mode
    window_start: str | None
    window_end: str | None
    patients: tuple[AmdPatient, ...] = ()
    deleted_patient_ids: tuple[int, ...] = ()
    visits: tuple[AmdVisit, ...] = ()
    deleted_visit_ids: tuple[int, ...] = ()
    charges: tuple[AmdCharge, ...] = ()
    deleted_charge_ids: tuple[int, ...] = ()

    @property
    def record_count(self) -> int:
        return (
            len(self.patients)
            + len(self.deleted_patient_ids)
            + len(self.visits)
            + len(self.deleted_visit_ids)
            + len(self.charges)
            + len(self.deleted_charge_ids)
        )


@runtime_checkable
class Sink(Protocol):
    """Durably lands a batch (raw tables in DuckDB/Postgres later). Must be idempotent:
    upsert by id, deleting an absent id is a no-op, deleting a visit deletes its charges."""

    def land(self, batch: SyncBatch) -> None: ...


@dataclass
class SyncResult:
    """What one sync run did; ``http_requests`` includes retries and logins."""

    office_key: str
    entity: Entity
    mode: Mode
    watermark_before: str | None
    watermark_after: str | None
    batches: int = 0
    upserted: int = 0
    deleted: int = 0
    charges_upserted: int = 0
    charges_deleted: int = 0
    http_requests: int = 0

    @property
    def records(self) -> int:
        return self.upserted + self.deleted + self.charges_upserted + self.charges_deleted

    def add(self, batch: SyncBatch) -> None:
        self.batches += 1
        self.upserted += len(batch.patients) + len(batch.visits)
        self.deleted += len(batch.deleted_patient_ids) + len(batch.deleted_visit_ids)
        self.charges_upserted += len(batch.charges)
        self.charges_deleted += len(batch.deleted_charge_ids)


class NoWatermarkError(RuntimeError):
    """Incremental sync was asked for before an initial load set a watermark."""


def _land(sink: Sink, batch: SyncBatch, result: SyncResult) -> None:
    sink.land(batch)
    result.add(batch)


# ---------------------------------------------------------------------------- patients


def initial_load_patients(
    client: AdvancedMDClient, store: WatermarkStore, sink: Sink, *, name: str = ""
) -> SyncResult:
    """Page through ``lookuppatient`` and fetch each patient with ``getdemographic``."""
    before = client.stats.http_requests
    result = SyncResult(client.office_key, PATIENTS, "initial", store.get(client.office_key, PATIENTS), None)
    watermark: str | None = None
    for page in client.iter_lookup_patients(name):
        if watermark is None:
            # lst is the server time of the first page: anything changed after it is re-read
            # by the first incremental run, so nothing can fall between load and sync.
            watermark = page.lst
        patients = tuple(client.get_demographic(stub.patient_id) for stub in page.items)
        _land(
            sink,
            SyncBatch(client.office_key, PATIENTS, "initial", None, watermark, patients=patients),
            result,
        )
        logger.info(
            "initial patients office %s: page %d/%d landed (%d)",
            client.office_key,
            page.page,
            page.page_count,
            len(patients),
        )
    if watermark is None:
        raise RuntimeError("lookuppatient gave no server time")
    store.set(client.office_key, PATIENTS, watermark)
    result.watermark_after = watermark
    result.http_requests = client.stats.http_requests - before
    return result


def sync_patients(
    client: AdvancedMDClient, store: WatermarkStore, sink: Sink, *, chunk_size: int = 500
) -> SyncResult:
    """Incremental patient sync from the stored watermark (initial load when there is none)."""
    watermark = store.get(client.office_key, PATIENTS)
    if watermark is None:
        return initial_load_patients(client, store, sink)
    before = client.stats.http_requests
    result = SyncResult(client.office_key, PATIENTS, "incremental", watermark, watermark)
    new_watermark: str | None = None
    for part in client.iter_updated_patients(watermark, chunk_size=chunk_size):
        new_watermark = part.servertime
        batch = SyncBatch(
            client.office_key,
            PATIENTS,
            "incremental",
            watermark,
            part.servertime,
            patients=part.upserts,
            deleted_patient_ids=part.deleted_ids,
        )
        _land(sink, batch, result)
    if new_watermark is not None:
        store.set(client.office_key, PATIENTS, new_watermark)
        result.watermark_after = new_watermark
    result.http_requests = client.stats.http_requests - before
    logger.info("sync patients office %s: %d records, watermark advanced", client.office_key, result.records)
    return result


# ---------------------------------------------------------------------------- visits


def _days(start: date, end: date) -> Iterable[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def initial_load_visits(
    client: AdvancedMDClient, store: WatermarkStore, sink: Sink, *, start: date, end: date
) -> SyncResult:
    """``getdatevisits`` for each day from ``start`` to ``end`` inclusive (charges included)."""
    if end < start:
        raise ValueError("end must not be before start")
    before = client.stats.http_requests
    result = SyncResult(client.office_key, VISITS, "initial", store.get(client.office_key, VISITS), None)
    watermark: str | None = None
    for day in _days(start, end):
        dv = client.get_date_visits(day)
        if watermark is None:
            watermark = dv.servertime or dv.lst
        batch = SyncBatch(
            client.office_key, VISITS, "initial", None, watermark, visits=dv.visits, charges=dv.charges
        )
        _land(sink, batch, result)
    if watermark is None:
        raise RuntimeError("getdatevisits gave no server time")
    store.set(client.office_key, VISITS, watermark)
    result.watermark_after = watermark
    result.http_requests = client.stats.http_requests - before
    logger.info(
        "initial visits office %s: %d records over %s..%s", client.office_key, result.records, start, end
    )
    return result


def sync_visits(
    client: AdvancedMDClient,
    store: WatermarkStore,
    sink: Sink,
    *,
    initial_start: date | None = None,
    initial_end: date | None = None,
    chunk_size: int = 500,
) -> SyncResult:
    """Incremental visit (+charge) sync; runs the initial load first when there is no watermark."""
    watermark = store.get(client.office_key, VISITS)
    if watermark is None:
        if initial_start is None or initial_end is None:
            raise NoWatermarkError(
                "no visit watermark yet: pass initial_start/initial_end for the initial load"
            )
        return initial_load_visits(client, store, sink, start=initial_start, end=initial_end)
    before = client.stats.http_requests
    result = SyncResult(client.office_key, VISITS, "incremental", watermark, watermark)
    new_watermark: str | None = None
    for part in client.iter_updated_visits(watermark, chunk_size=chunk_size):
        new_watermark = part.servertime
        batch = SyncBatch(
            client.office_key,
            VISITS,
            "incremental",
            watermark,
            part.servertime,
            visits=part.upserts,
            deleted_visit_ids=part.deleted_ids,
            charges=part.charges,
            deleted_charge_ids=part.deleted_charge_ids,
        )
        _land(sink, batch, result)
    if new_watermark is not None:
        store.set(client.office_key, VISITS, new_watermark)
        result.watermark_after = new_watermark
    result.http_requests = client.stats.http_requests - before
    logger.info("sync visits office %s: %d records, watermark advanced", client.office_key, result.records)
    return result


# ---------------------------------------------------------------------------- fetch first, land after


class FetchFirst:
    """Sink *and* watermark store of a sync that must not hold its real sink open while it talks to
    AdvancedMD (a DuckDB warehouse file is locked against every other process while it is open).

    The sync lands its batches here (in memory) and moves watermarks here; :meth:`commit` then lands
    every batch in the real sink (in one transaction when the sink offers ``land_all``) and only after
    that moves the real watermarks, so the crash contract above still holds: a failure before or during
    the commit re-reads the window next time."""

    def __init__(self, store: WatermarkStore) -> None:
        self.store = store
        self.batches: list[SyncBatch] = []
        self._pending: dict[tuple[str, str], str] = {}

    def land(self, batch: SyncBatch) -> None:
        self.batches.append(batch)

    def get(self, office_key: str, entity: str) -> str | None:
        pending = self._pending.get((office_key, entity))
        return pending if pending is not None else self.store.get(office_key, entity)

    def set(self, office_key: str, entity: str, watermark: str) -> None:
        self._pending[(office_key, entity)] = watermark

    def commit(self, sink: Sink) -> None:
        land_all = getattr(sink, "land_all", None)
        if land_all is not None:
            land_all(self.batches)
        else:
            for batch in self.batches:
                sink.land(batch)
        for (office_key, entity), watermark in self._pending.items():
            self.store.set(office_key, entity, watermark)
        self.batches, self._pending = [], {}


# ---------------------------------------------------------------------------- reference sink


@dataclass
class MemorySink:
    """Current-state sink in memory (tests, benchmark). Records when each id was landed."""

    clock: Clock | None = None
    patients: dict[int, AmdPatient] = field(default_factory=dict)
    visits: dict[int, AmdVisit] = field(default_factory=dict)
    charges: dict[int, AmdCharge] = field(default_factory=dict)
    batches: list[SyncBatch] = field(default_factory=list)
    landings: list[tuple[str, int, datetime]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def land(self, batch: SyncBatch) -> None:
        at = self.clock.now() if self.clock else datetime.now().astimezone()
        with self._lock:
            for p in batch.patients:
                self.patients[p.patient_id] = p
                self.landings.append(("patient", p.patient_id, at))
            for pid in batch.deleted_patient_ids:
                self.patients.pop(pid, None)
                self.landings.append(("patient", pid, at))
            for v in batch.visits:
                self.visits[v.visit_id] = v
                self.landings.append(("visit", v.visit_id, at))
            for vid in batch.deleted_visit_ids:
                self.visits.pop(vid, None)
                for cid in [c.charge_id for c in self.charges.values() if c.visit_id == vid]:
                    del self.charges[cid]
                self.landings.append(("visit", vid, at))
            for c in batch.charges:
                self.charges[c.charge_id] = c
                self.landings.append(("charge", c.charge_id, at))
            for cid in batch.deleted_charge_ids:
                self.charges.pop(cid, None)
                self.landings.append(("charge", cid, at))
            self.batches.append(batch)
