"""A real HTTP server on loopback that behaves like AdvancedMD's XMLRPC broker.

It reproduces the facts in advancedmd-api.md: the partner login and its redirect to a per-office
``api-NNN`` path, tokens expiring after 24 h or at midnight, XML and JSON brokers (with the
single-item-object vs array quirk), ID prefixes on non-``api`` classes, upper case, mixed date
formats, getupdated* N/C/D windows with the >1000 IDs-only fault, paged lookups, savecharges
replacing a visit's charges, the two-call eligibility flow, claim status with 277 codes, and
per-office-key, per-tier, per-minute rate limits judged on the injected clock. Excess calls are
answered with a fault (or HTTP 429) and counted. Faults can be injected deterministically.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import socket
import string
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ingest.advancedmd.charges import ICD10_RE
from ingest.advancedmd.clock import Clock, SystemClock
from ingest.advancedmd.credentials import AmdCredentials
from ingest.advancedmd.errors import ProtocolError
from ingest.advancedmd.normalize import (
    ValueFormatError,
    floor_millis,
    format_iso,
    format_vb,
    parse_amd_naive,
    parse_id,
    prefixed,
    to_server_naive,
)
from ingest.advancedmd.protocol import (
    RATE_LIMIT_MESSAGE,
    Fault,
    FaultCode,
    build_response,
    decode_json,
    decode_xml,
    encode_json,
    encode_xml,
)
from ingest.advancedmd.ratelimit import DEFAULT_LIMITS, Tier, TierLimit, is_peak, tier_for
from ingest.advancedmd.simulator.dataset import (
    CHARGE,
    PATIENT,
    VISIT,
    ChargeSpec,
    SimulatorDataset,
)
from ingest.advancedmd.simulator.render import (
    CHARGE_CATALOGUE,
    INSURANCE_CATALOGUE,
    PATIENT_CATALOGUE,
    VISIT_CATALOGUE,
    WireFormatter,
    apply_template,
    charge_fields,
    insurance_fields,
    patient_fields,
    visit_fields,
)

logger = logging.getLogger("ingest.advancedmd.simulator")

PARTNER_PATH = "/practicemanager/xmlrpc/processrequest.aspx"
BROKER_RE = re.compile(r"^/processrequest/(api-\d+)/([^/]+)/xmlrpc/processrequest\.aspx$", re.IGNORECASE)
SERVER_NAME = "SIMAMD01"


@dataclass(frozen=True)
class FaultConfig:
    """Deterministic fault injection; rates are per request and mutually exclusive."""

    fault_rate: float = 0.0  # Server fault "operation timed out"
    http_429_rate: float = 0.0
    http_503_rate: float = 0.0
    drop_rate: float = 0.0  # close the socket without answering
    slow_rate: float = 0.0  # answer after slow_seconds of real time
    slow_seconds: float = 2.0
    http_500_rate: float = 0.0  # ambiguous server error: may or may not have been applied
    session_expiry_rate: float = 0.0  # drop every session, answer "session has timed out"
    malformed_rate: float = 0.0  # HTTP 200 whose body is not well-formed XML
    truncated_rate: float = 0.0  # the real answer, cut off half way
    session_expiry_at_calls: tuple[int, ...] = ()  # expire every session when API call N arrives
    include_login: bool = True
    seed: int | None = None

    @classmethod
    def mixed(cls, total: float, *, slow_seconds: float = 2.0, **kwargs: Any) -> FaultConfig:
        """Spread ``total`` over the five kinds (faults 40%, 503 20%, drops 15%, slow 15%, 429 10%)."""
        return cls(
            fault_rate=total * 0.40,
            http_503_rate=total * 0.20,
            drop_rate=total * 0.15,
            slow_rate=total * 0.15,
            http_429_rate=total * 0.10,
            slow_seconds=slow_seconds,
            **kwargs,
        )

    @property
    def total(self) -> float:
        return sum(rate for _, rate in self.kinds())

    def kinds(self) -> tuple[tuple[str, float], ...]:
        """Every fault kind with its rate, in the order a draw walks them."""
        return (
            ("fault", self.fault_rate),
            ("http429", self.http_429_rate),
            ("http503", self.http_503_rate),
            ("drop", self.drop_rate),
            ("slow", self.slow_rate),
            ("http500", self.http_500_rate),
            ("session", self.session_expiry_rate),
            ("malformed", self.malformed_rate),
            ("truncated", self.truncated_rate),
        )


@dataclass(frozen=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    username: str = "APIUSER"
    password: str = "sim-password"
    app_names: tuple[str, ...] = ("TEMP", "MENTALSPACE")
    server_tz: str = "America/Denver"
    token_lifetime: timedelta = timedelta(hours=24)
    token_midnight_tz: str | None = "America/Los_Angeles"
    page_size: int = 100
    ids_only_threshold: int = 1000
    max_id_chunk: int = 500
    # An integrator note says date-based visit lists return only these statuses (L); 5/11 omitted.
    datevisits_statuses: frozenset[int] | None = frozenset({0, 1, 2, 3, 10, 12})
    enforce_rate_limits: bool = True
    limits: Mapping[Tier, TierLimit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    rate_limit_response: Literal["fault", "http429"] = "fault"
    eligibility_delay_seconds: float = 5.0
    mix_date_formats: bool = True
    faults: FaultConfig = field(default_factory=FaultConfig)


@dataclass
class SimulatorCounters:
    requests: int = 0
    api_calls: int = 0
    logins: int = 0
    login_redirects: int = 0
    login_failures: int = 0
    rate_limit_violations: int = 0
    violations_by_tier: dict[int, int] = field(default_factory=dict)
    session_timeouts: int = 0
    sessions_expired_by_injection: int = 0
    injected_faults: int = 0
    injected_429: int = 0
    injected_503: int = 0
    injected_500: int = 0
    malformed_responses: int = 0
    truncated_responses: int = 0
    dropped_connections: int = 0
    slow_responses: int = 0
    wrong_host: int = 0
    by_action: dict[str, int] = field(default_factory=dict)


@dataclass
class _Session:
    token: str
    office_key: str
    issued_at: datetime
    expires_at: datetime
    valid: bool = True


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str
    delay: float = 0.0


class SimFault(Exception):
    def __init__(self, code: int, message: str, faultcode: str = "Client") -> None:
        super().__init__(message)
        self.fault = Fault(code, faultcode, message, message)


@dataclass
class _Ctx:
    msg: ET.Element
    action: str
    cls: str
    ds: SimulatorDataset
    now: datetime
    servertime: datetime  # aware, floored to ms

    @property
    def prefixes(self) -> bool:
        # class="api" calls neither need nor return prefixes; other classes return them.
        return self.cls != "api"

    def ids(self, kind: str, record_id: int) -> str:
        return prefixed(kind, record_id) if self.prefixes else str(record_id)


def _template(msg: ET.Element, tag: str, catalogue: frozenset[str]) -> list[tuple[str, str]] | None:
    el = msg.find(tag)
    if el is None:
        return None
    pairs: list[tuple[str, str]] = []
    for alias, name in el.attrib.items():
        if name.lower() not in catalogue:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, f"Unknown field '{name}' in <{tag}> template")
        pairs.append((alias, name.lower()))
    return pairs


def _id_list(msg: ET.Element, list_tag: str, item_tag: str) -> list[int] | None:
    el = msg.find(list_tag)
    if el is None:
        return None
    out = []
    for item in el.findall(item_tag):
        try:
            rid = parse_id(item.get("id"))
        except ValueFormatError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, f"bad id in <{list_tag}>") from exc
        if rid is not None:
            out.append(rid)
    return out


class SimulatorCore:
    """Request handling independent of the HTTP plumbing (handy for unit tests)."""

    def __init__(self, datasets: Iterable[SimulatorDataset], config: SimulatorConfig, clock: Clock) -> None:
        self.datasets = {d.office_key: d for d in datasets}
        self.config = config
        self.clock = clock
        self.server_tz = ZoneInfo(config.server_tz)
        self.fmt = WireFormatter(config.seed, self.server_tz, mix=config.mix_date_formats)
        self.counters = SimulatorCounters()
        self.base_url = ""
        self._lock = threading.RLock()
        self._sessions: dict[str, _Session] = {}
        self._fault_rng = random.Random(config.faults.seed if config.faults.seed is not None else config.seed)
        self._token_rng = random.Random(config.seed * 7919 + 1)
        self._windows: dict[tuple[str, int, int], int] = {}
        self._eligibility: dict[int, tuple[str, int, int, str, datetime]] = {}
        self._elig_ids = iter(range(70_001, 10**9))
        self.hosts: dict[str, str] = {}
        used: set[int] = set()
        for i, key in enumerate(self.datasets):
            # Staged release waves: each office key gets its own api-NNN, not derivable by clients.
            n = 101 + (int(key) * 7 + i) % 40
            while n in used:
                n += 1
            used.add(n)
            self.hosts[key] = f"api-{n}"
        self._actions: dict[str, Callable[[_Ctx], tuple[ET.Element, Fault | None]]] = {
            "getupdatedpatients": self._getupdatedpatients,
            "getupdatedvisits": self._getupdatedvisits,
            "getdatevisits": self._getdatevisits,
            "lookuppatient": self._lookuppatient,
            "getdemographic": self._getdemographic,
            "lookupproccode": self._lookupproccode,
            "lookupprofile": self._lookupprofile,
            "savecharges": self._savecharges,
            "submitdemandrequest": self._submitdemandrequest,
            "checkeligibilityresponse": self._checkeligibilityresponse,
            "request": self._claimstatus_request,
            "getchargedetaildataicd10": self._getchargedetaildata,
            "gettxhistory": self._gettxhistory,
            "updatepatient": self._updatepatient,
            "updateinsurance": self._updateinsurance,
        }

    # ------------------------------------------------------------------ helpers

    def _bump(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.counters, name, getattr(self.counters, name) + n)

    def snapshot(self) -> SimulatorCounters:
        with self._lock:
            return SimulatorCounters(
                **{k: (dict(v) if isinstance(v, dict) else v) for k, v in asdict(self.counters).items()}
            )

    def expire_sessions(self) -> None:
        """Invalidate every token (simulates the server dropping sessions mid-sync)."""
        with self._lock:
            for s in self._sessions.values():
                s.valid = False

    def _servertime_text(self, at: datetime) -> str:
        return format_iso(to_server_naive(at, self.server_tz), millis=True)

    def _lst(self, at: datetime) -> str:
        return format_vb(to_server_naive(at, self.server_tz).replace(microsecond=0))

    def _reply(
        self,
        results: ET.Element | None,
        fault: Fault | None,
        *,
        as_json: bool,
        status: int = 200,
        at: datetime | None = None,
    ) -> Reply:
        root = build_response(results, server=SERVER_NAME, lst=self._lst(at or self.clock.now()), fault=fault)
        if as_json:
            return Reply(status, encode_json(root), "application/json; charset=utf-8")
        return Reply(status, encode_xml(root), "text/xml; charset=ISO-8859-1")

    def _fault(
        self,
        code: int,
        message: str,
        *,
        as_json: bool,
        faultcode: str = "Client",
        status: int = 200,
        results: ET.Element | None = None,
    ) -> Reply:
        return self._reply(results, Fault(code, faultcode, message, message), as_json=as_json, status=status)

    def _admit(self, office_key: str, tier: Tier, now: datetime) -> bool:
        """Fixed one-minute windows on the injected clock, per office key and tier."""
        minute = int(now.timestamp() // 60)
        minute_start = datetime.fromtimestamp(minute * 60, UTC)
        lim = self.config.limits[tier]
        limit = lim.peak if is_peak(minute_start) else lim.off_peak
        with self._lock:
            key = (office_key, int(tier), minute)
            count = self._windows.get(key, 0) + 1
            self._windows[key] = count
            if len(self._windows) > 10_000:
                for k in [k for k in self._windows if k[2] < minute - 5]:
                    del self._windows[k]
            if count > limit:
                self.counters.rate_limit_violations += 1
                self.counters.violations_by_tier[int(tier)] = (
                    self.counters.violations_by_tier.get(int(tier), 0) + 1
                )
                return False
            return True

    def _draw_fault(self) -> str | None:
        f = self.config.faults
        if f.total <= 0:
            return None
        with self._lock:
            r = self._fault_rng.random()
        edge = 0.0
        for kind, rate in f.kinds():
            edge += rate
            if r < edge:
                return kind
        return None

    def _injected(self, kind: str, *, as_json: bool) -> Reply | None:
        if kind == "fault":
            self._bump("injected_faults")
            return self._fault(
                FaultCode.OPERATION_TIMED_OUT, "Operation timed out", as_json=as_json, faultcode="Server"
            )
        if kind == "http429":
            self._bump("injected_429")
            return self._fault(
                FaultCode.MAX_QUANTITY_EXCEEDED, RATE_LIMIT_MESSAGE, as_json=as_json, status=429
            )
        if kind == "http503":
            self._bump("injected_503")
            return Reply(503, b"Service Unavailable", "text/plain")
        if kind == "http500":
            self._bump("injected_500")
            return Reply(500, b"Internal Server Error", "text/plain")
        if kind == "session":
            self._bump("sessions_expired_by_injection")
            self.expire_sessions()
            return self._fault(FaultCode.SESSION_TIMEOUT, "Session has timed out", as_json=as_json)
        if kind == "malformed":
            self._bump("malformed_responses")
            return Reply(
                200, b"<PPMDResults s='SIMAMD01'><Results success='1'><patientlist></Results>", "text/xml"
            )
        self._bump("dropped_connections")
        return None

    # ------------------------------------------------------------------ entry point

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply | None:
        """Return the reply, or None to drop the connection without answering."""
        if method == "GET":
            if path.rstrip("/") == "/_sim/counters":
                return Reply(200, json.dumps(asdict(self.snapshot())).encode(), "application/json")
            return Reply(404, b"not found", "text/plain")
        lowered = {k.lower(): v for k, v in headers.items()}
        as_json = "json" in lowered.get("content-type", "")
        partner = path.lower() == PARTNER_PATH
        broker = BROKER_RE.match(path)
        if not partner and broker is None:
            return Reply(404, b"not found", "text/plain")
        self._bump("requests")
        try:
            msg = decode_json(body) if as_json else decode_xml(body)
        except ProtocolError:
            return self._fault(FaultCode.XML_PARSE_ERROR, "XML parse error", as_json=as_json)
        if msg.tag != "ppmdmsg":
            return self._fault(FaultCode.INVALID_ELEMENT, "Expected <ppmdmsg>", as_json=as_json)
        action = (msg.get("action") or "").lower()
        cls = (msg.get("class") or "").lower()
        with self._lock:
            self.counters.by_action[action] = self.counters.by_action.get(action, 0) + 1

        if action == "login":
            delay = 0.0
            if self.config.faults.include_login:
                kind = self._draw_fault()
                if kind == "slow":
                    self._bump("slow_responses")
                    delay = self.config.faults.slow_seconds
                elif kind is not None and kind not in ("session", "truncated"):
                    return self._injected(kind, as_json=as_json)
            reply = self._login(msg, broker, as_json=as_json)
            reply.delay = delay
            return reply
        if partner:
            return self._fault(
                FaultCode.INVALID_ELEMENT, "Only login is served by the partner login host", as_json=as_json
            )

        token = self._token(msg, lowered)
        with self._lock:
            session = self._sessions.get(token or "")
        if session is None:
            self._bump("session_timeouts")
            return self._fault(FaultCode.SESSION_TIMEOUT, "Session has timed out", as_json=as_json)
        assert broker is not None
        if broker.group(1).lower() != self.hosts[session.office_key]:
            self._bump("wrong_host")
            return self._fault(
                FaultCode.PERMISSION_DENIED,
                f"Office key {session.office_key} is not served by {broker.group(1)}",
                as_json=as_json,
            )

        now = self.clock.now()
        tier = tier_for(action, cls)
        if self.config.enforce_rate_limits and not self._admit(session.office_key, tier, now):
            status = 429 if self.config.rate_limit_response == "http429" else 200
            return self._fault(
                FaultCode.MAX_QUANTITY_EXCEEDED, RATE_LIMIT_MESSAGE, as_json=as_json, status=status
            )
        with self._lock:
            self.counters.api_calls += 1
            call_no = self.counters.api_calls
        if call_no in self.config.faults.session_expiry_at_calls:
            self._bump("sessions_expired_by_injection")
            self.expire_sessions()
        if not session.valid or now >= session.expires_at:
            self._bump("session_timeouts")
            return self._fault(FaultCode.SESSION_TIMEOUT, "Session has timed out", as_json=as_json)

        delay = 0.0
        kind = self._draw_fault()
        if kind == "slow":
            self._bump("slow_responses")
            delay = self.config.faults.slow_seconds
        elif kind is not None and kind != "truncated":
            return self._injected(kind, as_json=as_json)

        handler = self._actions.get(action)
        if handler is None:
            return self._fault(
                FaultCode.INVALID_ATTRIBUTE,
                f"Action '{action}' is not supported by the simulator",
                as_json=as_json,
            )
        ctx = _Ctx(msg, action, cls, self.datasets[session.office_key], now, floor_millis(now))
        try:
            with ctx.ds.lock:
                results, fault = handler(ctx)
        except SimFault as exc:
            return self._reply(None, exc.fault, as_json=as_json, at=now)
        reply = self._reply(results, fault, as_json=as_json, at=now)
        reply.delay = delay
        if kind == "truncated":
            # The call was applied; only its answer is lost half way (an ambiguous failure for writes).
            self._bump("truncated_responses")
            reply.body = reply.body[: max(1, len(reply.body) // 2)]
        return reply

    @staticmethod
    def _token(msg: ET.Element, headers: Mapping[str, str]) -> str | None:
        first = msg[0] if len(msg) else None
        if first is not None and first.tag == "usercontext" and (first.text or "").strip():
            return (first.text or "").strip()
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "token" and value:
                return value
        return None

    # ------------------------------------------------------------------ login

    def _login(self, msg: ET.Element, broker: re.Match[str] | None, *, as_json: bool) -> Reply:
        office_key = msg.get("officecode") or ""
        app = (msg.get("appname") or "").upper()
        if (
            office_key not in self.datasets
            or msg.get("username") != self.config.username
            or msg.get("psw") != self.config.password
        ):
            self._bump("login_failures")
            return self._fault(
                FaultCode.INVALID_CREDENTIALS, "Invalid username, password or office key", as_json=as_json
            )
        if app not in {a.upper() for a in self.config.app_names}:
            self._bump("login_failures")
            return self._fault(
                FaultCode.PERMISSION_DENIED, "Application name is not registered", as_json=as_json
            )
        host = self.hosts[office_key]
        webserver = f"{self.base_url}/processrequest/{host}/{app}"
        uc_attrs = {
            "webserver": webserver,
            "reportingServerURL": f"{self.base_url}/processrequest/{host}/{app}/rs/reportrequest.aspx",
            "helpurl": f"{self.base_url}/help",
            "username": (msg.get("username") or "").upper(),
        }
        if broker is None or broker.group(1).lower() != host:
            self._bump("login_redirects")
            results = ET.Element("Results", {"success": "0"})
            ET.SubElement(results, "usercontext", uc_attrs)
            return self._fault(
                FaultCode.LOGIN_REDIRECT,
                f"The Office Key {office_key} must be redirected to {webserver}",
                as_json=as_json,
                results=results,
            )
        now = self.clock.now()
        expires = now + self.config.token_lifetime
        if self.config.token_midnight_tz:
            tz = ZoneInfo(self.config.token_midnight_tz)
            local = now.astimezone(tz)
            midnight = datetime.combine(local.date() + timedelta(days=1), dtime(0), tzinfo=tz)
            expires = min(expires, midnight)
        with self._lock:
            token = office_key + "".join(
                self._token_rng.choices(string.ascii_lowercase + string.digits, k=24)
            )
            self._sessions[token] = _Session(token, office_key, now, expires)
            self.counters.logins += 1
        results = ET.Element("Results", {"success": "1"})
        uc = ET.SubElement(results, "usercontext", uc_attrs)
        uc.text = token
        return self._reply(results, None, as_json=as_json, at=now)

    # ------------------------------------------------------------------ getupdated*

    def _window_start(self, ctx: _Ctx) -> datetime:
        text = ctx.msg.get("datechanged")
        if not text:
            raise SimFault(FaultCode.MISSING_ATTRIBUTE, "Missing attribute datechanged")
        try:
            naive = parse_amd_naive(text)
        except ValueFormatError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid datechanged") from exc
        assert naive is not None
        # Naive server-local time; fold=0 reads the repeated DST hour early (re-reads, never skips).
        return naive.replace(tzinfo=self.server_tz, fold=0).astimezone(UTC)

    def _getupdatedpatients(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        start = self._window_start(ctx)
        ids = _id_list(ctx.msg, "patientlist", "patient")
        if ctx.msg.get("patientid"):
            ids = [parse_id(ctx.msg.get("patientid")) or 0]
        if ids is not None and len(ids) > self.config.max_id_chunk:
            raise SimFault(
                FaultCode.MAX_QUANTITY_EXCEEDED, f"At most {self.config.max_id_chunk} ids per request"
            )
        p_tpl = _template(ctx.msg, "patient", PATIENT_CATALOGUE)
        i_tpl = _template(ctx.msg, "insurance", INSURANCE_CATALOGUE)
        changes = ctx.ds.window_changes(PATIENT, start, ctx.servertime, ids)
        results = ET.Element(
            "Results",
            {"servertime": self._servertime_text(ctx.servertime), "patientcount": str(len(changes))},
        )
        plist = ET.SubElement(results, "patientlist")
        if ids is None and len(changes) > self.config.ids_only_threshold:
            for rid, _ in changes:
                ET.SubElement(plist, "patient", {"id": ctx.ids("pat", rid)})
            return results, Fault(
                FaultCode.TOO_MANY_ROWS_IDS_ONLY,
                "Client",
                "More than 1000 records matched; only IDs are returned",
                "Re-request the records in chunks of 500 ids or fewer",
            )
        for rid, status in changes:
            attrs = {"id": ctx.ids("pat", rid), "updatestatus": "D" if status.startswith("D") else status}
            if status == "D":
                ET.SubElement(plist, "patient", attrs)
                continue
            p = ctx.ds.patients[rid]
            if p_tpl:
                attrs.update(apply_template(patient_fields(p, self.fmt, ctx.ids, ctx.ds.providers), p_tpl))
            el = ET.SubElement(plist, "patient", attrs)
            if i_tpl is not None and p.insurances:
                ilist = ET.SubElement(el, "insurancelist")
                for ins in p.insurances:
                    ET.SubElement(
                        ilist,
                        "insurance",
                        {
                            "id": ctx.ids("ins", ins.insurance_id),
                            **apply_template(insurance_fields(ins, self.fmt, ctx.ids), i_tpl),
                        },
                    )
        return results, None

    def _render_visit(
        self,
        ctx: _Ctx,
        parent: ET.Element,
        vid: int,
        status: str | None,
        v_tpl: list[tuple[str, str]] | None,
        c_tpl: list[tuple[str, str]] | None,
        window: tuple[datetime, datetime] | None,
        p_tpl: list[tuple[str, str]] | None = None,
    ) -> None:
        attrs = {"id": ctx.ids("vst", vid)}
        if status is not None:
            attrs["updatestatus"] = "D" if status.startswith("D") else status
        if status == "D":
            ET.SubElement(parent, "visit", attrs)
            return
        v = ctx.ds.visits[vid]
        if v_tpl:
            attrs.update(apply_template(visit_fields(v, self.fmt, ctx.ids, ctx.ds.providers), v_tpl))
        el = ET.SubElement(parent, "visit", attrs)
        patient = {"id": ctx.ids("pat", v.patient_id)}
        if p_tpl and v.patient_id in ctx.ds.patients:
            fields = patient_fields(ctx.ds.patients[v.patient_id], self.fmt, ctx.ids, ctx.ds.providers)
            patient.update(apply_template(fields, p_tpl))
        ET.SubElement(el, "patient", patient)
        if c_tpl is None:
            return
        clist = ET.SubElement(el, "chargelist")
        charge_ids = ctx.ds.charge_ids_of_visit(vid)
        if window is None:
            items: list[tuple[int, str | None]] = [(c, None) for c in charge_ids if ctx.ds.is_live(CHARGE, c)]
        else:
            items = list(ctx.ds.window_changes(CHARGE, window[0], window[1], charge_ids))
        for cid, cstatus in items:
            cattrs = {"id": ctx.ids("charge", cid)}
            if cstatus is not None:
                cattrs["updatestatus"] = cstatus
            if cstatus != "D":
                cattrs.update(apply_template(charge_fields(ctx.ds.charges[cid], self.fmt), c_tpl))
            ET.SubElement(clist, "charge", cattrs)

    def _getupdatedvisits(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        start = self._window_start(ctx)
        ids = _id_list(ctx.msg, "visitlist", "visit")
        if ctx.msg.get("visitid"):
            ids = [parse_id(ctx.msg.get("visitid")) or 0]
        if ids is not None and len(ids) > self.config.max_id_chunk:
            raise SimFault(
                FaultCode.MAX_QUANTITY_EXCEEDED, f"At most {self.config.max_id_chunk} ids per request"
            )
        v_tpl = _template(ctx.msg, "visit", VISIT_CATALOGUE)
        c_tpl = _template(ctx.msg, "charge", CHARGE_CATALOGUE)
        p_tpl = _template(ctx.msg, "patient", PATIENT_CATALOGUE)
        changes = ctx.ds.window_changes(VISIT, start, ctx.servertime, ids)
        results = ET.Element(
            "Results", {"servertime": self._servertime_text(ctx.servertime), "visitcount": str(len(changes))}
        )
        vlist = ET.SubElement(results, "visitlist")
        if ids is None and len(changes) > self.config.ids_only_threshold:
            for rid, _ in changes:
                ET.SubElement(vlist, "visit", {"id": ctx.ids("vst", rid)})
            return results, Fault(
                FaultCode.TOO_MANY_ROWS_IDS_ONLY,
                "Client",
                "More than 1000 records matched; only IDs are returned",
                "Re-request the records in chunks of 500 ids or fewer",
            )
        for rid, status in changes:
            self._render_visit(ctx, vlist, rid, status, v_tpl, c_tpl, (start, ctx.servertime), p_tpl)
        return results, None

    def _getdatevisits(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        text = ctx.msg.get("visitdate")
        if not text:
            raise SimFault(FaultCode.MISSING_ATTRIBUTE, "Missing attribute visitdate")
        try:
            day = parse_amd_naive(text)
        except ValueFormatError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid visitdate") from exc
        assert day is not None
        v_tpl = _template(ctx.msg, "visit", VISIT_CATALOGUE)
        c_tpl = _template(ctx.msg, "charge", CHARGE_CATALOGUE)
        p_tpl = _template(ctx.msg, "patient", PATIENT_CATALOGUE)
        allowed = self.config.datevisits_statuses
        visits = [
            v
            for v in ctx.ds.live_visits()
            if v.visit_date == day.date() and (allowed is None or v.appt_status in allowed)
        ]
        results = ET.Element(
            "Results", {"servertime": self._servertime_text(ctx.servertime), "visitcount": str(len(visits))}
        )
        vlist = ET.SubElement(results, "visitlist")
        for v in visits:
            self._render_visit(ctx, vlist, v.visit_id, None, v_tpl, c_tpl, None, p_tpl)
        return results, None

    # ------------------------------------------------------------------ lookups / demographics

    def _page(self, ctx: _Ctx, total: int) -> tuple[int, int, int, int]:
        try:
            page = max(1, int(ctx.msg.get("page") or 1))
        except ValueError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid page") from exc
        size = self.config.page_size
        pagecount = max(1, -(-total // size))
        lo = (page - 1) * size
        return page, pagecount, lo, min(total, lo + size)

    def _lookuppatient(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        name = (ctx.msg.get("name") or "").upper()
        chart = (ctx.msg.get("chart") or "").upper()
        exact = ctx.msg.get("exactmatch") == "1"
        hits = []
        for p in ctx.ds.live_patients():
            full = f"{p.last_name},{p.first_name}".upper()
            if name and not (full == name if exact else full.startswith(name)):
                continue
            if chart and p.chart.upper() != chart:
                continue
            hits.append(p)
        page, pagecount, lo, hi = self._page(ctx, len(hits))
        results = ET.Element("Results")
        plist = ET.SubElement(
            results,
            "patientlist",
            {
                "itemcount": str(len(hits)),
                "page": str(page),
                "pagecount": str(pagecount),
                "itemsfrom": str(lo + 1),
                "itemsto": str(hi),
            },
        )
        for p in hits[lo:hi]:
            ET.SubElement(
                plist,
                "patient",
                {
                    "id": ctx.ids("pat", p.patient_id),
                    "name": f"{p.last_name},{p.first_name}".upper(),
                    "chart": p.chart.upper(),
                    "dob": self.fmt.day(f"pat{p.patient_id}", "dob", p.dob) or "",
                },
            )
        return results, None

    def _getdemographic(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        try:
            pid = parse_id(ctx.msg.get("patientid"))
        except ValueFormatError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid patientid") from exc
        if pid is None:
            raise SimFault(FaultCode.MISSING_ATTRIBUTE, "Missing attribute patientid")
        if not ctx.ds.is_live(PATIENT, pid):
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Patient not found")
        p = ctx.ds.patients[pid]
        results = ET.Element("Results")
        plist = ET.SubElement(results, "patientlist")
        values = {k: v for k, v in patient_fields(p, self.fmt, ctx.ids, ctx.ds.providers).items() if v}
        el = ET.SubElement(plist, "patient", {"id": ctx.ids("pat", pid), **values})
        ilist = ET.SubElement(el, "insplanlist")
        for ins in p.insurances:
            ivalues = {k: v for k, v in insurance_fields(ins, self.fmt, ctx.ids).items() if v}
            ET.SubElement(ilist, "insplan", {"id": ctx.ids("ins", ins.insurance_id), **ivalues})
        ET.SubElement(
            el, "respparty", {"id": ctx.ids("resp", pid), "name": f"{p.last_name},{p.first_name}".upper()}
        )
        return results, None

    def _lookupproccode(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        code = (ctx.msg.get("code") or "").upper()
        hits = [p for p in ctx.ds.proc_codes.values() if not code or p.cpt == code]
        results = ET.Element("Results")
        plist = ET.SubElement(
            results, "proccodelist", {"itemcount": str(len(hits)), "page": "1", "pagecount": "1"}
        )
        for p in hits:
            ET.SubElement(
                plist,
                "proccode",
                {
                    "id": ctx.ids("pcode", p.proccode_id),
                    "code": p.cpt,
                    "description": p.description.upper(),
                    "fee": f"{p.fee:.2f}",
                },
            )
        return results, None

    def _lookupprofile(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        code = (ctx.msg.get("code") or "").upper()
        hits = [p for p in ctx.ds.providers.values() if not code or p.code.upper() == code]
        results = ET.Element("Results")
        plist = ET.SubElement(
            results, "profilelist", {"itemcount": str(len(hits)), "page": "1", "pagecount": "1"}
        )
        for p in hits:
            ET.SubElement(
                plist,
                "profile",
                {
                    "id": ctx.ids("prof", p.provider_id),
                    "code": p.code.upper(),
                    "name": p.name.upper(),
                    **({"npi": p.npi} if p.npi else {}),
                },
            )
        return results, None

    # ------------------------------------------------------------------ savecharges

    def _savecharges(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        ds = ctx.ds
        try:
            pid = parse_id(ctx.msg.get("patientid"))
        except ValueFormatError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid patientid") from exc
        visit_el = ctx.msg.find("visit")
        if pid is None:
            raise SimFault(FaultCode.MISSING_ATTRIBUTE, "Missing attribute patientid")
        if visit_el is None:
            raise SimFault(FaultCode.MISSING_ELEMENT, "Missing element visit")
        try:
            vid = parse_id(visit_el.get("id"))
            profile = parse_id(visit_el.get("profile"))
        except ValueFormatError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid visit id or profile") from exc
        if vid is None or not ds.is_live(VISIT, vid) or ds.visits[vid].patient_id != pid:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Visit not found for this patient")
        if profile is not None and profile not in ds.providers:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Unknown provider profile")
        specs = []
        by_id = ds.proc_codes
        for ch in visit_el.findall("chargelist/charge"):
            try:
                proc = parse_id(ch.get("proccode"))
            except ValueFormatError as exc:
                raise SimFault(FaultCode.INVALID_ATTRIBUTE, "proccode must be a procedure code id") from exc
            if proc is None or proc not in by_id:
                raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Unknown proccode")
            try:
                units = int(ch.get("units") or "1")
                fee = Decimal(ch.get("fee")) if ch.get("fee") else None
            except (ValueError, ArithmeticError) as exc:
                raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid units or fee") from exc
            if units < 1:
                raise SimFault(FaultCode.INVALID_ATTRIBUTE, "units must be positive")
            codes = tuple((d.get("code") or "").upper() for d in ch.findall("diagcodelist/diagcode"))
            if not codes or not all(ICD10_RE.match(c) for c in codes):
                raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid or missing diagnosis codes")
            mods = tuple(m.strip().upper() for m in (ch.get("modcodes") or "").split(",") if m.strip())
            specs.append(ChargeSpec(by_id[proc].cpt, units, fee, mods, codes, ch.get("pos") or "11"))
        if not specs:
            raise SimFault(FaultCode.MISSING_ELEMENT, "Missing element chargelist/charge")
        has_live = any(ds.is_live(CHARGE, c) for c in ds.charge_ids_of_visit(vid))
        if has_live and visit_el.get("force") != "1":
            raise SimFault(
                FaultCode.DUPLICATE_CHARGES,
                'Visit already has charges; resubmit with force="1" to replace them',
            )
        created = ds.post_charges(vid, specs, at=ctx.now)
        results = ET.Element("Results", {"success": "1", "chargeid": ctx.ids("charge", created[0].charge_id)})
        if visit_el.get("includenewchargeids") == "1":
            clist = ET.SubElement(results, "chargelist")
            for c in created:
                ET.SubElement(clist, "charge", {"id": ctx.ids("charge", c.charge_id)})
        return results, None

    # ------------------------------------------------------------------ financial history

    def _gettxhistory(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        """A patient's charges with their payments and write-offs, paged (class demographics: prefixed ids).

        ``fromdate``/``todate`` (mm/dd/yyyy) keep charges with a transaction, or a date of service, in the
        range; ``typefilter`` 0 all (the only one simulated)."""
        ds = ctx.ds
        try:
            pid = parse_id(ctx.msg.get("patientid"))
            page = int(ctx.msg.get("pagenumber") or "1")
        except (ValueFormatError, ValueError) as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid patientid or pagenumber") from exc
        if pid is None:
            raise SimFault(FaultCode.MISSING_ATTRIBUTE, "Missing attribute patientid")
        if not ds.is_live(PATIENT, pid):
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Patient not found")

        def _date(name: str):
            raw = ctx.msg.get(name)
            if not raw:
                return None
            try:
                return datetime.strptime(raw, "%m/%d/%Y").date()
            except ValueError as exc:
                raise SimFault(FaultCode.INVALID_ATTRIBUTE, f"Invalid {name}") from exc

        lo, hi = _date("fromdate"), _date("todate")

        def in_range(d) -> bool:
            return (lo is None or d >= lo) and (hi is None or d <= hi)

        charges = []
        for c in ds.live_charges():
            if c.patient_id != pid:
                continue
            txs = ds.transactions_of_charge(c.charge_id)
            if (lo or hi) and not (in_range(c.begin_dos) or any(in_range(t.tx_date) for t in txs)):
                continue
            charges.append((c, txs))
        size = self.config.page_size
        pages = max(1, -(-len(charges) // size))
        chunk = charges[(page - 1) * size : page * size]
        sums = {"patpayments": Decimal(0), "inspayments": Decimal(0), "patwriteoffs": Decimal(0)}
        sums["inswriteoffs"] = Decimal(0)
        for _, txs in charges:
            for t in txs:
                key = ("pat" if t.source == "PAT" else "ins") + (
                    "payments" if t.kind == "PAYMENT" else "writeoffs"
                )
                sums[key] += t.amount
        results = ET.Element(
            "Results",
            {
                "itemcount": str(len(charges)),
                "pagecount": str(pages),
                "page": str(page),
                "itemsfrom": str((page - 1) * size + 1 if chunk else 0),
                "itemsto": str((page - 1) * size + len(chunk)),
                **{f"sum{k}": f"{v:.2f}" for k, v in sums.items()},
            },
        )
        clist = ET.SubElement(results, "chargelist")
        for c, txs in chunk:
            paid = sum((t.amount for t in txs if t.kind == "PAYMENT"), Decimal(0))
            written = sum((t.amount for t in txs if t.kind == "WRITEOFF"), Decimal(0))
            el = ET.SubElement(
                clist,
                "charge",
                {
                    "id": ctx.ids("charge", c.charge_id),
                    "visit": ctx.ids("vst", c.visit_id),
                    "proccode": c.cpt_code.upper(),
                    "dos": c.begin_dos.strftime("%m/%d/%Y"),
                    "fee": f"{c.fee:.2f}",
                    "paid": f"{paid:.2f}",
                    "totbal": f"{c.fee - paid - written:.2f}",
                    "void": "0",
                },
            )
            plist = ET.SubElement(el, "paymentlist")
            wlist = ET.SubElement(el, "writeofflist")
            for t in txs:
                ET.SubElement(
                    plist if t.kind == "PAYMENT" else wlist,
                    "payment" if t.kind == "PAYMENT" else "writeoff",
                    {
                        "id": str(t.tx_id),
                        "amount": f"{t.amount:.2f}",
                        "date": t.tx_date.strftime("%m/%d/%Y"),
                        "source": t.source,
                        "code": t.code.upper(),
                    },
                )
        return results, None

    # ------------------------------------------------------------------ demographic updates

    def _updatepatient(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        """Update a patient's demographics (``<patient id changedat ...fields>``); a ``changedat`` older than the
        record's last change is refused as "record changed by another user" (the conflict our push reports)."""
        el = ctx.msg.find("patient")
        if el is None:
            raise SimFault(FaultCode.MISSING_ELEMENT, "Missing element patient")
        try:
            pid = parse_id(el.get("id"))
        except ValueFormatError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid patient id") from exc
        if pid is None or not ctx.ds.is_live(PATIENT, pid):
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Patient not found")
        patient = ctx.ds.patients[pid]
        self._refuse_stale(ctx, el, patient.changed_at)
        fields = {
            "address1": "address1",
            "city": "city",
            "state": "state",
            "zip": "zip_code",
            "email": "email",
        }
        fields.update(homephone="home_phone", lastname="last_name", firstname="first_name")
        changes = {
            attr: (el.get(name) or "").upper() or None for name, attr in fields.items() if name in el.attrib
        }
        if "email" in changes and changes["email"]:
            changes["email"] = changes["email"].lower()
        updated = ctx.ds.update_patient(pid, at=ctx.now, **changes) if changes else patient
        return ET.Element(
            "Results",
            {
                "success": "1",
                "changedat": self._servertime_text(updated.changed_at) if updated.changed_at else "",
            },
        ), None

    def _updateinsurance(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        """Update one coverage (``<patient id changedat><insplan id ...>``), same conflict rule as patients."""
        el = ctx.msg.find("patient")
        plan = el.find("insplanlist/insplan") if el is not None else None
        if el is None or plan is None:
            raise SimFault(FaultCode.MISSING_ELEMENT, "Missing element patient/insplanlist/insplan")
        try:
            pid, iid = parse_id(el.get("id")), parse_id(plan.get("id"))
        except ValueFormatError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid patient or insplan id") from exc
        if pid is None or not ctx.ds.is_live(PATIENT, pid):
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Patient not found")
        patient = ctx.ds.patients[pid]
        coverage = next((i for i in patient.insurances if i.insurance_id == iid), None)
        if coverage is None:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Coverage not found for this patient")
        self._refuse_stale(ctx, el, patient.changed_at)
        if plan.get("subscribernum"):
            coverage.subscriber_id = plan.get("subscribernum").upper()
        if plan.get("grpnum"):
            coverage.group_number = plan.get("grpnum").upper()
        updated = ctx.ds.update_patient(pid, at=ctx.now)
        return ET.Element(
            "Results",
            {
                "success": "1",
                "changedat": self._servertime_text(updated.changed_at) if updated.changed_at else "",
            },
        ), None

    def _refuse_stale(self, ctx: _Ctx, el: ET.Element, changed_at: datetime | None) -> None:
        sent = el.get("changedat")
        if not sent or changed_at is None:
            return
        try:
            seen = parse_amd_naive(sent)
        except ValueFormatError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid changedat") from exc
        if seen is None:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid changedat")
        if to_server_naive(changed_at, self.server_tz).replace(microsecond=0) > seen.replace(microsecond=0):
            raise SimFault(FaultCode.RECORD_CHANGED, "Record changed by another user")

    # ------------------------------------------------------------------ eligibility

    def _submitdemandrequest(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        try:
            pid = parse_id(ctx.msg.get("patientid"))
            cov = parse_id(ctx.msg.get("insurancecoverageid"))
        except ValueFormatError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid patientid or insurancecoverageid") from exc
        if pid is None or cov is None:
            raise SimFault(FaultCode.MISSING_ATTRIBUTE, "Missing attribute patientid or insurancecoverageid")
        if (pid, cov) not in ctx.ds.eligibility or not ctx.ds.is_live(PATIENT, pid):
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Coverage not found for this patient")
        with self._lock:
            eid = next(self._elig_ids)
            self._eligibility[eid] = (
                ctx.ds.office_key,
                pid,
                cov,
                ctx.msg.get("eligibilitystc") or "30",
                ctx.now,
            )
        return ET.Element("Results", {"success": "1", "eligibilityid": str(eid)}), None

    def _checkeligibilityresponse(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        try:
            eid = parse_id(ctx.msg.get("eligibilityid"))
        except ValueFormatError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid eligibilityid") from exc
        with self._lock:
            req = self._eligibility.get(eid or -1)
        if req is None or req[0] != ctx.ds.office_key:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Unknown eligibilityid")
        _, pid, cov, stc, submitted = req
        results = ET.Element("Results")
        requested = self._lst(submitted)
        if (ctx.now - submitted).total_seconds() < self.config.eligibility_delay_seconds:
            ET.SubElement(
                results,
                "eligibility",
                {"eligibilityid": str(eid), "eligibilitystatusid": "1", "requestdate": requested},
            )
            return results, None
        e = ctx.ds.eligibility[(pid, cov)]
        el = ET.SubElement(
            results,
            "eligibility",
            {
                "eligibilityid": str(eid),
                "eligibilitystatusid": "2",
                "requestdate": requested,
                "responsedate": self._lst(
                    submitted + timedelta(seconds=self.config.eligibility_delay_seconds)
                ),
                "patientid": ctx.ids("pat", pid),
                "insurancecoverageid": ctx.ids("ins", cov),
            },
        )
        x12 = ET.SubElement(el, "x12_271")
        ET.SubElement(x12, "ST", {"st01": "271", "st02": f"{eid % 10000:04d}"})
        ET.SubElement(x12, "BHT", {"bht01": "0022", "bht02": "11"})
        if e.reject_code:
            ET.SubElement(x12, "AAA", {"aaa01": "N", "aaa03": e.reject_code, "aaa04": "C"})
        elif e.active:
            ET.SubElement(
                x12,
                "EB",
                {"eb01": "1", "eb02": "IND", "eb03": stc, "eb04": "HM", "eb05": e.plan_name.upper()},
            )
            if e.copay is not None:
                ET.SubElement(
                    x12,
                    "EB",
                    {"eb01": "B", "eb02": "IND", "eb03": stc, "eb06": "27", "eb07": f"{e.copay:.2f}"},
                )
            if e.deductible is not None:
                ET.SubElement(
                    x12,
                    "EB",
                    {"eb01": "C", "eb02": "IND", "eb03": stc, "eb06": "23", "eb07": f"{e.deductible:.2f}"},
                )
            if e.deductible_remaining is not None:
                ET.SubElement(
                    x12,
                    "EB",
                    {
                        "eb01": "C",
                        "eb02": "IND",
                        "eb03": stc,
                        "eb06": "29",
                        "eb07": f"{e.deductible_remaining:.2f}",
                    },
                )
        else:
            ET.SubElement(x12, "EB", {"eb01": "6", "eb02": "IND", "eb03": stc})
        ET.SubElement(x12, "SE", {"se01": str(len(x12) + 1)})
        return results, None

    # ------------------------------------------------------------------ charge detail

    def _getchargedetaildata(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        """One charge's detail (class demographics: prefixed ids): amounts, balances and its billing to
        insurance (``datebilled``, ``lastbilledcarrier``, empty while never billed)."""
        try:
            cid = parse_id(ctx.msg.get("chargeid"))
        except ValueFormatError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid chargeid") from exc
        if cid is None:
            raise SimFault(FaultCode.MISSING_ATTRIBUTE, "Missing attribute chargeid")
        if not ctx.ds.is_live(CHARGE, cid):
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Charge not found")
        c = ctx.ds.charges[cid]
        key = f"charge{cid}"
        attrs = {
            "id": ctx.ids("charge", cid),
            "fee": f"{c.fee:.2f}",
            "insbilled": "1" if c.date_billed is not None else "0",
            "datebilled": self.fmt.day(key, "datebilled", c.date_billed) or "",
            "lastbilledcarrier": (c.billed_carrier or "").upper(),
            "void": "0",
        }
        results = ET.Element("Results")
        ET.SubElement(results, "charge", attrs)
        return results, None

    # ------------------------------------------------------------------ claim status

    def _claimstatus_request(self, ctx: _Ctx) -> tuple[ET.Element, Fault | None]:
        if ctx.cls != "claimstatus":
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Action 'request' needs class claimstatus")
        try:
            vid = parse_id(ctx.msg.get("visitid"))
        except ValueFormatError as exc:
            raise SimFault(FaultCode.INVALID_ATTRIBUTE, "Invalid visitid") from exc
        carrier = (ctx.msg.get("carriercode") or "").upper()
        if vid is None or not carrier:
            raise SimFault(FaultCode.MISSING_ATTRIBUTE, "Missing attribute visitid or carriercode")
        results = ET.Element("Results")
        clist = ET.SubElement(results, "carrierlist")
        ET.SubElement(clist, "carrier", {"code": carrier})
        slist = ET.SubElement(results, "claimstatuslist")
        statuses = [s for s in ctx.ds.claim_statuses.get(vid, []) if s.carrier_code.upper() == carrier]
        if not statuses:
            cs = ET.SubElement(
                slist, "claimstatus", {"requeststatusid": "2", "verifiedat": self._lst(ctx.now)}
            )
            ET.SubElement(cs, "claimstatusdetail", {"categorycode": "A4", "statuscode": "35"})
        for s in statuses:
            cs = ET.SubElement(
                slist,
                "claimstatus",
                {"claimid": str(s.claim_id), "requeststatusid": "2", "verifiedat": self._lst(ctx.now)},
            )
            detail = {"categorycode": s.category_code, "statuscode": s.status_code}
            if s.payment_amount is not None:
                detail["paymentamount"] = f"{s.payment_amount:.2f}"
            if s.icn:
                detail["icnnumber"] = s.icn
            ET.SubElement(cs, "claimstatusdetail", detail)
        return results, None


# ---------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    core: SimulatorCore

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus delayed ACKs
        # add ~40 ms to every keep-alive request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.sockets_lock:
                self.server.open_sockets.discard(self.connection)

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self._send(self.server.core.handle("POST", self.path, dict(self.headers.items()), body))

    def do_GET(self) -> None:  # noqa: N802
        self._send(self.server.core.handle("GET", self.path, dict(self.headers.items()), b""))

    def _send(self, reply: Reply | None) -> None:
        if reply is None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.delay > 0:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # Paths and status codes only; bodies (PHI, passwords) are never logged.
        logger.debug("%s - %s", self.address_string(), format % args)


class SimulatorHandle:
    """A running simulator. Use as a context manager; ``stop()`` is idempotent."""

    def __init__(self, server: _Server, thread: threading.Thread, core: SimulatorCore, base_url: str) -> None:
        self._server = server
        self._thread = thread
        self.core = core
        self.base_url = base_url
        self._stopped = False

    @property
    def login_url(self) -> str:
        return f"{self.base_url}{PARTNER_PATH}"

    @property
    def counters(self) -> SimulatorCounters:
        return self.core.snapshot()

    @property
    def datasets(self) -> dict[str, SimulatorDataset]:
        return self.core.datasets

    @property
    def dataset(self) -> SimulatorDataset:
        return next(iter(self.core.datasets.values()))

    @property
    def clock(self) -> Clock:
        return self.core.clock

    @property
    def config(self) -> SimulatorConfig:
        return self.core.config

    def api_host(self, office_key: str | None = None) -> str:
        return self.core.hosts[office_key or self.dataset.office_key]

    def expire_sessions(self) -> None:
        self.core.expire_sessions()

    def credentials(self, office_key: str | None = None, *, app_name: str = "TEMP") -> AmdCredentials:
        """Credentials that log in to this simulator (they are not secrets)."""
        return AmdCredentials(
            username=self.core.config.username,
            password=self.core.config.password,
            office_key=office_key or self.dataset.office_key,
            app_name=app_name,
            login_url=self.login_url,
        )

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        with self._server.sockets_lock:
            for sock in list(self._server.open_sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulator(
    dataset: SimulatorDataset | Iterable[SimulatorDataset],
    config: SimulatorConfig | None = None,
    *,
    clock: Clock | None = None,
) -> SimulatorHandle:
    """Serve ``dataset`` (one or several office keys) on ``config.host:config.port`` (0 = ephemeral)."""
    datasets = [dataset] if isinstance(dataset, SimulatorDataset) else list(dataset)
    if not datasets:
        raise ValueError("at least one dataset is needed")
    config = config or SimulatorConfig()
    clock = clock or SystemClock()
    for ds in datasets:
        ds.clock = clock
    core = SimulatorCore(datasets, config, clock)
    server = _Server((config.host, config.port), _Handler)
    server.core = core
    host, port = server.server_address[:2]
    core.base_url = f"http://{host}:{port}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="amd-simulator", daemon=True
    )
    thread.start()
    return SimulatorHandle(server, thread, core, core.base_url)
