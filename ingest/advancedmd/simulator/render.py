"""How simulator records look on the wire: field catalogues, upper case, prefixes, mixed dates."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal

from ingest.advancedmd.normalize import format_iso, format_us_date, format_vb, to_server_naive
from ingest.advancedmd.simulator.dataset import SimCharge, SimInsurance, SimPatient, SimProvider, SimVisit


def _up(value: str | None) -> str | None:
    return None if value is None else value.upper()


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _flag(value: bool) -> str:
    return "1" if value else "0"


class WireFormatter:
    """Renders dates in one of AdvancedMD's three forms, chosen per (record, field) and seed,
    so one response mixes them the way the real service does."""

    def __init__(self, seed: int, server_tz: tzinfo, *, mix: bool = True) -> None:
        self._seed = seed
        self._tz = server_tz
        self._mix = mix

    def _style(self, key: str, name: str) -> int:
        if not self._mix:
            return 1
        return zlib.crc32(f"{self._seed}:{key}:{name}".encode()) % 3

    def instant(self, key: str, name: str, at: datetime | None) -> str | None:
        """An aware instant rendered as naive server-local time."""
        if at is None:
            return None
        return self.naive(key, name, to_server_naive(at.astimezone(UTC), self._tz))

    def naive(self, key: str, name: str, dt: datetime | None) -> str | None:
        if dt is None:
            return None
        style = self._style(key, name)
        if style == 0:
            return format_vb(dt)
        return format_iso(dt, millis=dt.microsecond != 0 or style == 1, pad_hour=style == 1)

    def day(self, key: str, name: str, d: date | None) -> str | None:
        if d is None:
            return None
        style = self._style(key, name)
        if style == 0:
            return format_us_date(d)
        midnight = datetime(d.year, d.month, d.day)
        return format_iso(midnight, millis=False) if style == 1 else format_vb(midnight)


Ids = Callable[[str, int], str]


def patient_fields(
    p: SimPatient, fmt: WireFormatter, ids: Ids, providers: Mapping[int, SimProvider]
) -> dict[str, str | None]:
    key = f"pat{p.patient_id}"
    prov = providers.get(p.provider_id or -1)
    return {
        "lastname": _up(p.last_name),
        "firstname": _up(p.first_name),
        "middlename": _up(p.middle_name),
        "name": _up(f"{p.last_name},{p.first_name}" + (f" {p.middle_name}" if p.middle_name else "")),
        "chart": _up(p.chart),
        "dob": fmt.day(key, "dob", p.dob),
        "sex": _up(p.sex),
        "address1": _up(p.address1),
        "address2": _up(p.address2),
        "city": _up(p.city),
        "state": _up(p.state),
        "zip": p.zip_code,
        "homephone": p.home_phone,
        "officephone": p.office_phone,
        "email": _up(p.email),
        "provprofile": None if p.provider_id is None else ids("prof", p.provider_id),
        "provprofilecode": None if prov is None else _up(prov.code),
        "finclasscode": _up(p.fin_class_code),
        "createdat": fmt.instant(key, "createdat", p.created_at),
        "changedat": fmt.instant(key, "changedat", p.changed_at),
    }


def insurance_fields(i: SimInsurance, fmt: WireFormatter, ids: Ids) -> dict[str, str | None]:
    key = f"ins{i.insurance_id}"
    return {
        "active": _flag(i.active),
        "sequencenumber": str(i.sequence),
        "effectivestartdate": fmt.day(key, "start", i.effective_start),
        "effectiveenddate": fmt.day(key, "end", i.effective_end),
        "carcode": _up(i.carrier_code),
        "carname": _up(i.carrier_name),
        "carrier": ids("car", i.carrier_id),
        "subidnumber": _up(i.subscriber_id),
        "subrelationship": _up(i.relationship),
        "groupname": _up(i.group_name),
        "groupnumber": _up(i.group_number),
        "copaydollaramount": _money(i.copay),
    }


def visit_fields(
    v: SimVisit, fmt: WireFormatter, ids: Ids, providers: Mapping[int, SimProvider]
) -> dict[str, str | None]:
    key = f"vst{v.visit_id}"
    prov = providers.get(v.provider_id)
    return {
        "patientid": ids("pat", v.patient_id),
        "visitdate": fmt.day(key, "visitdate", v.visit_date),
        "visitstartdatetime": fmt.naive(key, "start", v.start),
        "duration": str(v.duration_minutes),
        "apptstatus": str(v.appt_status),
        "appointmenttype": _up(v.appointment_type),
        "columnheading": _up(v.column_heading),
        "profilecode": None if prov is None else _up(prov.code),
        "facilitycode": _up(v.facility_code),
        "chargesposted": _flag(v.charges_posted),
        "arrivetime": fmt.naive(key, "arrivetime", v.arrive_time),
        "seentime": fmt.naive(key, "seentime", v.seen_time),
        "confirmedat": fmt.instant(key, "confirmedat", v.confirmed_at),
        "createdat": fmt.instant(key, "createdat", v.created_at),
        "createdby": _up(v.created_by),
        "modifiedat": fmt.instant(key, "modifiedat", v.modified_at),
    }


def charge_fields(c: SimCharge, fmt: WireFormatter) -> dict[str, str | None]:
    key = f"charge{c.charge_id}"
    return {
        "chargecode": c.cpt_code,
        "fee": _money(c.fee),
        "units": str(c.units),
        "modifiers": ",".join(c.modifiers) or None,
        "diagnosiscodesicd10": ",".join(c.diagnosis_codes) or None,
        "begindateofservice": fmt.day(key, "bdos", c.begin_dos),
        "enddateofservice": fmt.day(key, "edos", c.end_dos),
        "postingdate": fmt.day(key, "posting", c.posting_date),
        "posvalue": c.pos,
        "createdat": fmt.instant(key, "createdat", c.created_at),
        "changedat": fmt.instant(key, "changedat", c.changed_at),
    }


PATIENT_CATALOGUE = frozenset(
    [
        "lastname",
        "firstname",
        "middlename",
        "name",
        "chart",
        "dob",
        "sex",
        "address1",
        "address2",
        "city",
        "state",
        "zip",
        "homephone",
        "officephone",
        "email",
        "provprofile",
        "provprofilecode",
        "finclasscode",
        "createdat",
        "changedat",
    ]
)
INSURANCE_CATALOGUE = frozenset(
    [
        "active",
        "sequencenumber",
        "effectivestartdate",
        "effectiveenddate",
        "carcode",
        "carname",
        "carrier",
        "subidnumber",
        "subrelationship",
        "groupname",
        "groupnumber",
        "copaydollaramount",
    ]
)
VISIT_CATALOGUE = frozenset(
    [
        "patientid",
        "visitdate",
        "visitstartdatetime",
        "duration",
        "apptstatus",
        "appointmenttype",
        "columnheading",
        "profilecode",
        "facilitycode",
        "chargesposted",
        "arrivetime",
        "seentime",
        "confirmedat",
        "createdat",
        "createdby",
        "modifiedat",
    ]
)
CHARGE_CATALOGUE = frozenset(
    [
        "chargecode",
        "fee",
        "units",
        "modifiers",
        "diagnosiscodesicd10",
        "begindateofservice",
        "enddateofservice",
        "postingdate",
        "posvalue",
        "createdat",
        "changedat",
    ]
)


def apply_template(values: Mapping[str, str | None], template: list[tuple[str, str]]) -> dict[str, str]:
    """Pick the requested fields under their aliases; empty values are left out."""
    out: dict[str, str] = {}
    for alias, name in template:
        value = values.get(name)
        if value is not None and value != "":
            out[alias] = value
    return out
