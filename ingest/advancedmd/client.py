"""AdvancedMD practice-management client (XMLRPC ``ppmdmsg`` broker, XML or JSON, over httpx).

What it takes care of, so callers do not have to:

* the two-step login (partner login -> redirect fault -> the office key's own ``api-NNN`` host),
  token caching until it expires (24 h / end of day) with refresh before that, and exactly one
  re-login + retry when a call hits "session has timed out"; with a :class:`SessionStore` the
  session is shared by every process of the deployment (one login per office key and day, not
  one per run or step);
* per-office-key, per-tier rate limits (queueing, never exceeding), exponential backoff with
  jitter on faults, HTTP 429/5xx, timeouts and dropped connections;
* an unreachable host (DNS failure, connection refused, connect timeout) fails fast: a short
  bounded retry, then one :class:`UnreachableError` naming the host;
* an optional total deadline: no request, backoff or rate-limit wait runs past it
  (:class:`DeadlineExceededError`), and each request's timeout is cut to the time left;
* the getupdated* ">1000 rows: IDs only" answer, re-requested in chunks of at most 500 ids;
* normalisation into typed records (ID prefixes, upper-case text, mixed date formats).

Logging carries action names, office keys, ids and counts only, never request bodies (the
login body holds the password) and never record contents (PHI).
"""

from __future__ import annotations

import logging
import random
import ssl
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import httpx

from ingest.advancedmd.charges import (
    ChargeSubmission,
    ChargeValidationError,
    FieldError,
    validate_charge_submission,
)
from ingest.advancedmd.claimstatus import describe_category
from ingest.advancedmd.clock import Clock, SystemClock
from ingest.advancedmd.credentials import AmdCredentials
from ingest.advancedmd.errors import (
    AdvancedMDError,
    AmdFaultError,
    AuthenticationError,
    DeadlineExceededError,
    EligibilityTimeoutError,
    ProtocolError,
    RateLimitedError,
    RetriesExhaustedError,
    SessionExpiredError,
    TransientError,
    UnreachableError,
)
from ingest.advancedmd.normalize import (
    clean_text,
    format_iso,
    format_us_date,
    format_vb,
    parse_amd_date,
    parse_amd_datetime,
    parse_decimal,
    parse_id,
    parse_int,
    to_server_naive,
)
from ingest.advancedmd.protocol import (
    AmdResponse,
    FaultCode,
    build_request,
    children_of,
    decode_json,
    decode_xml,
    element,
    encode_json,
    encode_xml,
    lower_attrs,
    parse_response,
)
from ingest.advancedmd.ratelimit import RateLimiter, RetryPolicy, Tier, tier_for
from ingest.advancedmd.records import (
    CHARGE_FIELDS,
    INSURANCE_FIELDS,
    PATIENT_FIELDS,
    VISIT_FIELDS,
    VISIT_PATIENT_FIELDS,
    AmdCharge,
    AmdPatient,
    AmdTransaction,
    AmdVisit,
    ChargeBilling,
    ClaimStatusDetail,
    ClaimStatusEntry,
    ClaimStatusResult,
    EligibilityResult,
    PatientStub,
    TxHistoryPage,
    charge_from_element,
    has_visit_payload,
    patient_from_element,
    template,
    visit_from_element,
)
from ingest.advancedmd.sessions import SessionStore, StoredSession, account_digest

logger = logging.getLogger("ingest.advancedmd.client")
# Logins one call may make after its session timed out. More than one: processes sharing an office key (several
# Dagster runs) can see a session end between their login and their call again (found by the peak-day test, whose
# three workers under 1% "every session expires" faults saw three in a row once in CI: hence four, not two);
# bounded, because an account whose sessions always end is a fault to report, not to retry.
MAX_RELOGINS = 4

MAX_ID_CHUNK = 500  # vendor limit for re-requesting ids after the >1000 fault
Transport = Literal["xml", "json"]


@dataclass(frozen=True)
class ApiUrls:
    """URLs derived from the ``webserver`` the login hands back (never hard-coded)."""

    xmlrpc: str
    pm_rest: str
    ehr_rest: str
    stream: str


def derive_urls(webserver: str) -> ApiUrls:
    base = webserver.rstrip("/")
    return ApiUrls(
        xmlrpc=f"{base}/xmlrpc/processrequest.aspx",
        pm_rest=base.replace("/processrequest/", "/api/"),
        ehr_rest=base.replace("/processrequest/", "/ehr-api/"),
        stream=base.replace("/processrequest/", "/streamrequest/") + "/xmlrpc/streamrequest.aspx",
    )


@dataclass(frozen=True)
class Session:
    """A logged-in usercontext. The token is masked in repr."""

    token: str = field(repr=False)
    webserver: str
    issued_at: datetime
    expires_at: datetime
    refresh_at: datetime

    @property
    def urls(self) -> ApiUrls:
        return derive_urls(self.webserver)


@dataclass
class ClientStats:
    """Counters for monitoring and for the calls-per-1,000-records figure."""

    http_requests: int = 0
    logins: int = 0
    session_relogins: int = 0
    retries: int = 0
    transient_errors: int = 0
    rate_limited: int = 0
    faults: int = 0
    requests_by_action: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class PatientUpdates:
    """One getupdatedpatients answer (or one chunk of it)."""

    servertime: str
    upserts: tuple[AmdPatient, ...] = ()
    deleted_ids: tuple[int, ...] = ()
    statuses: Mapping[int, str] = field(default_factory=dict)
    ids_only: bool = False
    pending_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class VisitUpdates:
    """One getupdatedvisits answer (or chunk): visits, their changed charges, deletions."""

    servertime: str
    upserts: tuple[AmdVisit, ...] = ()
    deleted_ids: tuple[int, ...] = ()
    charges: tuple[AmdCharge, ...] = ()
    deleted_charge_ids: tuple[int, ...] = ()
    charges_posted_ids: tuple[int, ...] = ()
    statuses: Mapping[int, str] = field(default_factory=dict)
    ids_only: bool = False
    pending_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class LookupPage:
    """One page of a lookup (AdvancedMD's page-based pagination)."""

    items: tuple[PatientStub, ...]
    page: int
    page_count: int
    item_count: int
    lst: str | None


@dataclass(frozen=True)
class DateVisits:
    visit_date: date
    servertime: str | None
    lst: str | None
    visits: tuple[AmdVisit, ...]
    charges: tuple[AmdCharge, ...]


@dataclass(frozen=True)
class SaveChargesResult:
    visit_id: int
    charge_ids: tuple[int, ...]


def _tls12_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # vendor requirement
    return ctx


def next_midnight(at: datetime, tz: ZoneInfo) -> datetime:
    """The first local midnight in ``tz`` strictly after ``at``."""
    local = at.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), dtime(0), tzinfo=tz)


# Hosts found unreachable in this process -> (monotonic time until which that verdict stands, message). A run's
# later steps then fail at once instead of each spending its own connect attempts on the same dead host.
_UNREACHABLE: dict[str, tuple[float, str]] = {}
UNREACHABLE_MEMORY_SECONDS = 60.0


class _ConnectFailed(TransientError):
    """The request never reached a server (DNS, refused, connect timeout): safe to resend, pointless to
    resend for long."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, ambiguous=False)
        self.reason = reason


def _connect_reason(exc: Exception) -> str:
    text = str(exc).lower()
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect timed out"
    if "name or service not known" in text or "name resolution" in text or "nodename" in text:
        return "host name does not resolve"
    if "refused" in text:
        return "connection refused"
    return "cannot connect"


def _chunks(ids: Sequence[int], size: int) -> Iterator[tuple[int, ...]]:
    for start in range(0, len(ids), size):
        yield tuple(ids[start : start + size])


class AdvancedMDClient:
    """Client for one office key. Not thread-safe; share the :class:`RateLimiter` instead."""

    def __init__(
        self,
        credentials: AmdCredentials,
        *,
        clock: Clock | None = None,
        rate_limiter: RateLimiter | None = None,
        transport: Transport = "xml",
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        http_client: httpx.Client | None = None,
        server_tz: str = "America/Denver",
        token_tz: str = "America/Los_Angeles",
        token_lifetime: timedelta = timedelta(hours=24),
        max_token_age: timedelta = timedelta(hours=23),
        token_refresh_margin: timedelta = timedelta(minutes=1),
        eligibility_cache_ttl: timedelta = timedelta(hours=24),
        deadline: datetime | None = None,
        session_store: SessionStore | None = None,
        login_lock_wait: float = 120.0,
    ) -> None:
        self._credentials = credentials
        # None: the session lives in this client only (simulator tests). Otherwise shared with other processes.
        self._sessions = session_store
        self._account = account_digest(credentials.login_url, credentials.username, credentials.app_name)
        # Real seconds to wait for another process's login when no deadline is set; then log in regardless.
        self._login_lock_wait = login_lock_wait
        self._clock: Clock = clock or SystemClock()
        self._limiter = rate_limiter or RateLimiter(self._clock)
        self._transport: Transport = transport
        self._retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        self._own_http = http_client is None
        # A host that drops SYNs should not hold a sync for the whole read timeout.
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self._http = http_client or httpx.Client(
            timeout=self._timeout, verify=_tls12_context(), follow_redirects=False
        )
        self.deadline = deadline
        self.server_tz = ZoneInfo(server_tz)
        self._token_tz = ZoneInfo(token_tz)
        self._token_lifetime = token_lifetime
        self._max_token_age = max_token_age
        self._token_margin = token_refresh_margin
        self._elig_ttl = eligibility_cache_ttl
        self._elig_cache: dict[tuple[int, int, str], EligibilityResult] = {}
        self._proc_cache: dict[str, int | None] = {}
        self._provider_cache: dict[str, int | None] = {}
        self._session: Session | None = None
        self._failed_token: str | None = None  # the last token AdvancedMD said had timed out
        self.stats = ClientStats()

    # ------------------------------------------------------------------ plumbing

    @property
    def office_key(self) -> str:
        return self._credentials.office_key

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def rate_limiter(self) -> RateLimiter:
        return self._limiter

    @property
    def session(self) -> Session | None:
        return self._session

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> AdvancedMDClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _msgtime(self) -> str:
        return format_vb(to_server_naive(self._clock.now(), self.server_tz), pad_date=False)

    def _remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return (self.deadline - self._clock.now()).total_seconds()

    def _wait(self, seconds: float, action: str, why: str) -> None:
        """Sleep on the clock, unless the deadline would pass first."""
        remaining = self._remaining()
        if remaining is not None and seconds >= remaining:
            raise DeadlineExceededError(
                f"{action}: the run's deadline ({self.deadline:%H:%M:%S} UTC) would pass while {why} "
                f"({seconds:.0f} s)"
            )
        self._clock.sleep(seconds)

    def _acquire(self, tier: Tier, action: str) -> None:
        remaining = self._remaining()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceededError(f"{action}: the run's deadline ({self.deadline:%H:%M:%S} UTC) passed")
        slot = self._limiter.reserve(self.office_key, tier)
        wait = (slot - self._clock.now()).total_seconds()
        if wait > 0:
            self._wait(wait, action, f"waiting for a tier-{int(tier)} rate-limit slot")
            self._limiter.record_wait(wait)

    def _post(self, url: str, msg: ET.Element, action: str) -> AmdResponse:
        self.stats.http_requests += 1
        self.stats.requests_by_action[action] += 1
        if self._transport == "json":
            body = encode_json(msg)
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
        else:
            body = encode_xml(msg)
            headers = {"Content-Type": "text/xml; charset=ISO-8859-1"}
        timeout = self._timeout
        remaining = self._remaining()
        if remaining is not None:
            cap = max(0.1, remaining)
            timeout = httpx.Timeout(min(self._timeout.read or cap, cap), connect=min(5.0, cap))
        try:
            resp = self._http.post(url, content=body, headers=headers, timeout=timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            host = urlparse(url).netloc or url
            raise _ConnectFailed(f"{action}: cannot reach {host}", _connect_reason(exc)) from exc
        except httpx.TimeoutException as exc:
            raise TransientError(f"{action}: timeout ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"{action}: connection problem ({type(exc).__name__})") from exc
        if resp.status_code == 429:
            raise RateLimitedError(f"{action}: HTTP 429")
        if resp.status_code >= 500:
            # 503 means the request was turned away before processing; other 5xx are ambiguous.
            raise TransientError(f"{action}: HTTP {resp.status_code}", ambiguous=resp.status_code != 503)
        if resp.status_code != 200:
            raise AdvancedMDError(f"{action}: unexpected HTTP {resp.status_code}")
        try:
            root = decode_json(resp.content) if self._transport == "json" else decode_xml(resp.content)
            return parse_response(root)
        except ProtocolError as exc:
            # A truncated body is a transport problem in disguise.
            raise TransientError(f"{action}: unreadable response ({exc})") from exc

    def _on_rate_limited(self, tier: Tier, action: str) -> None:
        self.stats.rate_limited += 1
        logger.warning("%s: AdvancedMD reported a quota violation; holding tier %d back", action, tier)
        self._limiter.block(self.office_key, tier, self._retry.rate_limited_delay + self._rng.uniform(0, 5))

    def _exchange(
        self,
        url: str,
        build: Callable[[bool], ET.Element],
        tier: Tier,
        action: str,
        allow_faults: Collection[int] = (),
    ) -> AmdResponse:
        """Send one logical request, retrying transient trouble. Faults that are not transient
        (and the session timeout, handled by :meth:`call`) are returned, not raised."""
        last_error: Exception | None = None
        ambiguous = False
        connect_failures = 0
        started = self._clock.now()
        for attempt in range(1, self._retry.max_attempts + 1):
            if attempt > 1:
                self.stats.retries += 1
            msg = build(ambiguous)
            host = urlparse(url).netloc or url
            known = _UNREACHABLE.get(host)
            if known is not None and known[0] > time.monotonic():
                raise UnreachableError(known[1])
            self._acquire(tier, action)
            try:
                resp = self._post(url, msg, action)
                _UNREACHABLE.pop(host, None)
            except _ConnectFailed as exc:
                connect_failures += 1
                self.stats.transient_errors += 1
                if connect_failures >= self._retry.connect_attempts:
                    took = (self._clock.now() - started).total_seconds()
                    message = (
                        f"AdvancedMD at {host} is unreachable ({exc.reason}; {action}, "
                        f"{connect_failures} attempts over {took:.0f} s)"
                    )
                    _UNREACHABLE[host] = (time.monotonic() + UNREACHABLE_MEMORY_SECONDS, message)
                    raise UnreachableError(message) from None
                self._wait(self._retry.connect_delay * connect_failures, action, "retrying a failed connect")
                continue
            except RateLimitedError as exc:
                last_error = exc
                self._on_rate_limited(tier, action)
                continue
            except TransientError as exc:
                last_error = exc
                ambiguous = ambiguous or exc.ambiguous
                self.stats.transient_errors += 1
                delay = self._retry.delay(attempt, self._rng)
                logger.warning("%s attempt %d failed (%s); retrying in %.1fs", action, attempt, exc, delay)
                self._wait(delay, action, f"backing off after: {exc}")
                continue
            fault = resp.fault
            if fault is not None and fault.is_rate_limit:
                last_error = RateLimitedError(f"{action}: {fault.faultstring}")
                self._on_rate_limited(tier, action)
                continue
            if fault is not None and fault.code not in allow_faults and fault.is_retryable:
                self.stats.faults += 1
                last_error = AmdFaultError(action, fault)
                ambiguous = True
                delay = self._retry.delay(attempt, self._rng)
                logger.warning(
                    "%s attempt %d: server fault %s; retrying in %.1fs", action, attempt, fault.code, delay
                )
                self._wait(delay, action, f"backing off after fault {fault.code}")
                continue
            return resp
        raise RetriesExhaustedError(action, self._retry.max_attempts, last_error)

    # ------------------------------------------------------------------ login / session

    def login(self) -> Session:
        """Two-step login: partner login answers with a redirect fault naming our api host."""
        creds = self._credentials

        def build(_ambiguous: bool) -> ET.Element:
            return build_request(
                "login",
                "login",
                msgtime=self._msgtime(),
                attrs={
                    "username": creds.username,
                    "psw": creds.password,
                    "officecode": creds.office_key,
                    "appname": creds.app_name,
                },
            )

        url = creds.login_url
        resp = self._exchange(url, build, Tier.LOW, "login")
        hops = 0
        while resp.fault is not None and resp.fault.code == FaultCode.LOGIN_REDIRECT:
            hops += 1
            uc = resp.results.find("usercontext") if resp.results is not None else None
            webserver = uc.get("webserver") if uc is not None else None
            if not webserver or hops > 3:
                raise ProtocolError("login redirect without a usable webserver")
            url = derive_urls(webserver).xmlrpc
            resp = self._exchange(url, build, Tier.LOW, "login")
        if resp.fault is not None:
            if resp.fault.code in (
                FaultCode.INVALID_CREDENTIALS,
                FaultCode.PERMISSION_DENIED,
                FaultCode.INVALID_HOST_IP,
            ):
                raise AuthenticationError("login", resp.fault)
            raise AmdFaultError("login", resp.fault)
        uc = resp.results.find("usercontext") if resp.results is not None else None
        token = (uc.text or "").strip() if uc is not None else ""
        webserver = uc.get("webserver") if uc is not None else None
        if resp.results_attr("success") != "1" or not token or not webserver:
            raise ProtocolError("login answered without a token")
        if not token.startswith(creds.office_key):
            logger.warning(
                "login token for office key %s does not start with the office key", creds.office_key
            )
        issued = self._clock.now()
        expires, refresh = self._lifetime(issued)
        self._session = Session(token, webserver, issued, expires, refresh)
        self.stats.logins += 1
        logger.info(
            "AdvancedMD login ok for office key %s (host %s)", creds.office_key, webserver.split("/")[-2]
        )
        return self._session

    def _lifetime(self, issued: datetime) -> tuple[datetime, datetime]:
        """When a token issued at ``issued`` expires (24 h or the next midnight in ``token_tz``, whichever
        comes first) and when to stop using it (a margin before that, and no older than ``max_token_age``)."""
        expires = min(issued + self._token_lifetime, next_midnight(issued, self._token_tz))
        refresh = min(issued + self._max_token_age, expires - self._token_margin)
        if refresh <= issued:  # logged in just before midnight: use it until it expires
            refresh = expires
        return expires, refresh

    def _usable(self, stored: StoredSession | None) -> Session | None:
        """A session another process stored, if it is this account's and still before its refresh time by
        this client's own rules too (its clock and token time zone, whatever the writer's were)."""
        if stored is None or stored.account != self._account:
            return None
        session = stored.session
        if session.token == self._failed_token:  # still there when the discard was skipped: look no further
            return None
        refresh = min(session.refresh_at, self._lifetime(session.issued_at)[1])
        if not session.issued_at <= self._clock.now() < refresh:
            return None
        return session

    def _give_up_waiting(self) -> Callable[[], bool]:
        """Until when to wait for another process's login: the deadline, else ``login_lock_wait`` seconds."""
        if self.deadline is not None:
            return lambda: (self._remaining() or 0.0) <= 0
        until = time.monotonic() + self._login_lock_wait
        return lambda: time.monotonic() >= until

    def _ensure_session(self) -> Session:
        if self._session is not None and self._clock.now() < self._session.refresh_at:
            return self._session
        store = self._sessions
        if store is None:
            return self.login()
        shared = self._usable(store.load(self.office_key))
        if shared is not None:
            self._session = shared
            return shared
        # Look again under the lock: a process that held it was logging in, and its session is ours too.
        with store.locked(self.office_key, self._give_up_waiting()) as view:
            shared = self._usable(view.current)
            if shared is not None:
                self._session = shared
                return shared
            if not view.acquired:
                remaining = self._remaining()
                if remaining is not None and remaining <= 0:
                    raise DeadlineExceededError(
                        f"login: the run's deadline ({self.deadline:%H:%M:%S} UTC) passed while another "
                        "process was logging in"
                    )
                logger.warning("office key %s: gave up waiting for another process's login", self.office_key)
            session = self.login()
            view.replacement = StoredSession(self._account, session)
            return session

    def call(
        self,
        action: str,
        cls: str,
        attrs: Mapping[str, object] | None = None,
        children: Sequence[ET.Element] | Callable[[bool], Sequence[ET.Element]] = (),
        *,
        allow_faults: Collection[int] = (),
    ) -> AmdResponse:
        """Send one action. ``children`` may be a callable receiving ``ambiguous_retry`` so writes
        can change how they retry after a failure that may already have been applied."""
        tier = tier_for(action, cls)
        for relogins in range(MAX_RELOGINS + 1):
            session = self._ensure_session()

            def build(ambiguous: bool, session: Session = session) -> ET.Element:
                kids = children(ambiguous) if callable(children) else children
                return build_request(
                    action,
                    cls,
                    msgtime=self._msgtime(),
                    attrs=attrs,
                    children=kids,
                    usercontext=session.token,
                )

            resp = self._exchange(session.urls.xmlrpc, build, tier, action, allow_faults)
            fault = resp.fault
            if fault is not None and fault.code == FaultCode.SESSION_TIMEOUT:
                self._session = None
                self._failed_token = session.token
                if self._sessions is not None:
                    # Only if it still holds the token that failed: another process may have logged in since,
                    # and the next round adopts its session instead of logging in again.
                    self._sessions.discard(self.office_key, session.token)
                if relogins == MAX_RELOGINS:
                    raise SessionExpiredError(action, fault)
                self.stats.session_relogins += 1
                logger.info("%s: session timed out; logging in again", action)
                continue
            if fault is not None and fault.code not in allow_faults:
                self.stats.faults += 1
                raise AmdFaultError(action, fault)
            return resp
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ incremental sync

    def get_updated_patients(
        self, datechanged: str, *, patient_ids: Sequence[int] | None = None
    ) -> PatientUpdates:
        """One getupdatedpatients call; may come back ``ids_only`` (see :meth:`iter_updated_patients`)."""
        children = [template("patient", PATIENT_FIELDS), template("insurance", INSURANCE_FIELDS)]
        if patient_ids:
            if len(patient_ids) > MAX_ID_CHUNK:
                raise ValueError(f"at most {MAX_ID_CHUNK} ids per re-request")
            children.append(
                element("patientlist", None, *(element("patient", {"id": i}) for i in patient_ids))
            )
        resp = self.call(
            "getupdatedpatients",
            "api",
            {"datechanged": datechanged},
            children,
            allow_faults={FaultCode.TOO_MANY_ROWS_IDS_ONLY},
        )
        servertime = resp.results_attr("servertime")
        if not servertime:
            raise ProtocolError("getupdatedpatients answered without servertime")
        items = children_of(resp.results, "patientlist", "patient")
        if resp.fault is not None:
            ids = tuple(pid for pid in (parse_id(e.get("id")) for e in items) if pid is not None)
            return PatientUpdates(servertime, ids_only=True, pending_ids=ids)
        upserts: list[AmdPatient] = []
        deleted: list[int] = []
        statuses: dict[int, str] = {}
        for e in items:
            pid = parse_id(e.get("id"))
            if pid is None:
                continue
            status = (e.get("updatestatus") or "C").upper()
            statuses[pid] = status
            if status == "D":
                deleted.append(pid)
            else:
                upserts.append(patient_from_element(e, self.server_tz))
        logger.info(
            "getupdatedpatients office %s: %d upserts, %d deletes (ids %s)",
            self.office_key,
            len(upserts),
            len(deleted),
            sorted(statuses)[:20],
        )
        return PatientUpdates(servertime, tuple(upserts), tuple(deleted), statuses)

    def iter_updated_patients(
        self, datechanged: str, *, chunk_size: int = MAX_ID_CHUNK
    ) -> Iterator[PatientUpdates]:
        """Changes since ``datechanged``; over 1000 rows the ids are re-requested in chunks.

        Every yielded part carries the *first* answer's servertime: that is the next watermark,
        because chunks only re-read rows already inside that window.
        """
        chunk_size = min(chunk_size, MAX_ID_CHUNK)
        first = self.get_updated_patients(datechanged)
        if not first.ids_only:
            yield first
            return
        logger.info(
            "getupdatedpatients: IDs-only answer with %d ids; re-requesting in chunks", len(first.pending_ids)
        )
        for chunk in _chunks(first.pending_ids, chunk_size):
            part = self.get_updated_patients(datechanged, patient_ids=chunk)
            if part.ids_only:
                raise ProtocolError("re-requested chunk still over the row limit; lower chunk_size")
            yield replace(part, servertime=first.servertime)

    def get_updated_visits(
        self, datechanged: str, *, visit_ids: Sequence[int] | None = None, include_charges: bool = True
    ) -> VisitUpdates:
        """One getupdatedvisits call (with changed charges when ``include_charges``).

        Visit ``D`` is overloaded by AdvancedMD: it also means "charges were posted". A ``D``
        visit that still carries fields is such a visit (upserted, listed in
        ``charges_posted_ids``); a bare ``D`` is a deletion.
        """
        children = [template("visit", VISIT_FIELDS), template("patient", VISIT_PATIENT_FIELDS)]
        if include_charges:
            children.append(template("charge", CHARGE_FIELDS))
        if visit_ids:
            if len(visit_ids) > MAX_ID_CHUNK:
                raise ValueError(f"at most {MAX_ID_CHUNK} ids per re-request")
            children.append(element("visitlist", None, *(element("visit", {"id": i}) for i in visit_ids)))
        resp = self.call(
            "getupdatedvisits",
            "api",
            {"datechanged": datechanged, "ignoreappttypes": "1"},
            children,
            allow_faults={FaultCode.TOO_MANY_ROWS_IDS_ONLY},
        )
        servertime = resp.results_attr("servertime")
        if not servertime:
            raise ProtocolError("getupdatedvisits answered without servertime")
        items = children_of(resp.results, "visitlist", "visit")
        if resp.fault is not None:
            ids = tuple(v for v in (parse_id(e.get("id")) for e in items) if v is not None)
            return VisitUpdates(servertime, ids_only=True, pending_ids=ids)
        upserts: list[AmdVisit] = []
        deleted: list[int] = []
        posted: list[int] = []
        charges: list[AmdCharge] = []
        deleted_charges: list[int] = []
        statuses: dict[int, str] = {}
        for e in items:
            vid = parse_id(e.get("id"))
            if vid is None:
                continue
            status = (e.get("updatestatus") or "C").upper()
            statuses[vid] = status
            if status == "D" and not has_visit_payload(e):
                deleted.append(vid)
                continue
            visit = visit_from_element(e, self.server_tz)
            if status == "D":
                posted.append(vid)
            upserts.append(visit)
            for c in children_of(e, "chargelist", "charge"):
                cid = parse_id(c.get("id"))
                if cid is None:
                    continue
                if (c.get("updatestatus") or "C").upper() == "D":
                    deleted_charges.append(cid)
                else:
                    charges.append(charge_from_element(c, vid, visit.patient_id, self.server_tz))
        logger.info(
            "getupdatedvisits office %s: %d upserts (%d with charges posted), %d deletes, "
            "%d charge upserts, %d charge deletes",
            self.office_key,
            len(upserts),
            len(posted),
            len(deleted),
            len(charges),
            len(deleted_charges),
        )
        return VisitUpdates(
            servertime,
            tuple(upserts),
            tuple(deleted),
            tuple(charges),
            tuple(deleted_charges),
            tuple(posted),
            statuses,
        )

    def iter_updated_visits(
        self, datechanged: str, *, chunk_size: int = MAX_ID_CHUNK, include_charges: bool = True
    ) -> Iterator[VisitUpdates]:
        """Like :meth:`iter_updated_patients` for visits."""
        chunk_size = min(chunk_size, MAX_ID_CHUNK)
        first = self.get_updated_visits(datechanged, include_charges=include_charges)
        if not first.ids_only:
            yield first
            return
        logger.info(
            "getupdatedvisits: IDs-only answer with %d ids; re-requesting in chunks", len(first.pending_ids)
        )
        for chunk in _chunks(first.pending_ids, chunk_size):
            part = self.get_updated_visits(datechanged, visit_ids=chunk, include_charges=include_charges)
            if part.ids_only:
                raise ProtocolError("re-requested chunk still over the row limit; lower chunk_size")
            yield replace(part, servertime=first.servertime)

    # ------------------------------------------------------------------ initial load

    def lookup_patients(self, name: str = "", *, page: int = 1) -> LookupPage:
        """One page of ``lookuppatient`` (an empty name matches every patient)."""
        resp = self.call("lookuppatient", "lookup", {"name": name, "page": page, "exactmatch": "0"})
        plist = resp.results.find("patientlist") if resp.results is not None else None
        items: list[PatientStub] = []
        if plist is not None:
            for e in plist.findall("patient"):
                pid = parse_id(e.get("id"))
                if pid is not None:
                    items.append(PatientStub(pid, clean_text(e.get("chart"))))
        return LookupPage(
            items=tuple(items),
            page=parse_int(plist.get("page") if plist is not None else None) or page,
            page_count=parse_int(plist.get("pagecount") if plist is not None else None) or 0,
            item_count=parse_int(plist.get("itemcount") if plist is not None else None) or 0,
            lst=resp.lst,
        )

    def iter_lookup_patients(self, name: str = "") -> Iterator[LookupPage]:
        """Every page of a patient lookup, following ``pagecount``."""
        page = 1
        while True:
            result = self.lookup_patients(name, page=page)
            yield result
            if page >= result.page_count or not result.items:
                return
            page += 1

    def get_demographic(self, patient_id: int) -> AmdPatient:
        """Full demographics with coverages (class ``demographics``)."""
        resp = self.call("getdemographic", "demographics", {"patientid": patient_id})
        results = resp.results
        el = None
        if results is not None:
            el = results.find("patientlist/patient")
            if el is None:
                el = results.find("patient")
        if el is None:
            raise ProtocolError("getdemographic answered without a patient")
        return patient_from_element(el, self.server_tz)

    def get_date_visits(self, visit_date: date, *, include_charges: bool = True) -> DateVisits:
        """All visits scheduled on ``visit_date`` (the vendor's initial-load path for visits)."""
        children = [template("visit", VISIT_FIELDS), template("patient", VISIT_PATIENT_FIELDS)]
        if include_charges:
            children.append(template("charge", CHARGE_FIELDS))
        resp = self.call("getdatevisits", "api", {"visitdate": format_us_date(visit_date)}, children)
        visits: list[AmdVisit] = []
        charges: list[AmdCharge] = []
        for e in children_of(resp.results, "visitlist", "visit"):
            visit = visit_from_element(e, self.server_tz)
            visits.append(visit)
            for c in children_of(e, "chargelist", "charge"):
                if (c.get("updatestatus") or "").upper() != "D":
                    charges.append(charge_from_element(c, visit.visit_id, visit.patient_id, self.server_tz))
        return DateVisits(
            visit_date, resp.results_attr("servertime"), resp.lst, tuple(visits), tuple(charges)
        )

    # ------------------------------------------------------------------ lookups used by writes

    def lookup_proc_code(self, cpt_code: str) -> int | None:
        """The practice's procedure-code id for a CPT code (savecharges wants the id). Cached."""
        key = cpt_code.strip().upper()
        if key not in self._proc_cache:
            resp = self.call("lookupproccode", "lookup", {"code": key, "exactmatch": "1", "page": 1})
            found = None
            for e in children_of(resp.results, "proccodelist", "proccode"):
                if (e.get("code") or "").strip().upper() == key:
                    found = parse_id(e.get("id"))
                    break
            self._proc_cache[key] = found
        return self._proc_cache[key]

    def lookup_provider(self, code: str) -> int | None:
        """Provider profile id for a profile code. Cached."""
        key = code.strip().upper()
        if key not in self._provider_cache:
            resp = self.call("lookupprofile", "lookup", {"code": key, "exactmatch": "1", "page": 1})
            found = None
            for e in children_of(resp.results, "profilelist", "profile"):
                if (e.get("code") or "").strip().upper() == key:
                    found = parse_id(e.get("id"))
                    break
            self._provider_cache[key] = found
        return self._provider_cache[key]

    def lookup_provider_profile(self, code: str) -> tuple[int, str | None] | None:
        """A provider profile's id and NPI (None when the code is unknown). Not cached: links are re-checked."""
        key = code.strip().upper()
        resp = self.call("lookupprofile", "lookup", {"code": key, "exactmatch": "1", "page": 1})
        for e in children_of(resp.results, "profilelist", "profile"):
            if (e.get("code") or "").strip().upper() == key:
                pid = parse_id(e.get("id"))
                if pid is not None:
                    npi = (e.get("npi") or "").strip() or None
                    self._provider_cache[key] = pid
                    return pid, npi
        return None

    # ------------------------------------------------------------------ writes

    def save_charges(
        self, submission: ChargeSubmission, *, replace: bool = False, today: date | None = None
    ) -> SaveChargesResult:
        """Validate, then post charges for one visit.

        AdvancedMD's savecharges *replaces* the visit's charges when ``force="1"``. We send
        force only when asked (``replace=True``) or when retrying after a failure that may have
        been applied already: the submission is the complete intended set for the visit, so
        replacing is then the idempotent outcome rather than a duplicate.
        """
        validate_charge_submission(submission, today=today)
        proc_ids: list[int] = []
        errors: list[FieldError] = []
        for i, line in enumerate(submission.lines):
            pid = self.lookup_proc_code(line.cpt_code)
            if pid is None:
                errors.append(
                    FieldError(f"lines[{i}].cpt_code", "not in the practice's procedure code master")
                )
            else:
                proc_ids.append(pid)
        if errors:
            raise ChargeValidationError(errors)
        dos = format_us_date(submission.service_date)
        diagnoses = [d.strip().upper() for d in submission.diagnoses]

        def build_children(ambiguous: bool) -> list[ET.Element]:
            charges = []
            for line, proc_id in zip(submission.lines, proc_ids, strict=True):
                charge = element(
                    "charge",
                    {
                        "proccode": proc_id,
                        "units": line.units,
                        "pos": line.place_of_service,
                        "modcodes": ",".join(m.strip().upper() for m in line.modifiers) or None,
                        "fee": None if line.fee is None else f"{line.fee:.2f}",
                        "begindate": dos,
                        "enddate": dos,
                    },
                    element(
                        "diagcodelist",
                        {"codeset": "10"},
                        *(element("diagcode", {"code": diagnoses[p - 1]}) for p in line.diagnosis_pointers),
                    ),
                )
                charges.append(charge)
            visit = element(
                "visit",
                {
                    "id": submission.visit_id,
                    "profile": submission.provider_id,
                    "force": "1" if (replace or ambiguous) else "0",
                    "includenewchargeids": "1",
                },
                element("chargelist", None, *charges),
            )
            return [visit]

        resp = self.call("savecharges", "api", {"patientid": submission.patient_id}, build_children)
        ids = tuple(
            cid
            for cid in (parse_id(c.get("id")) for c in children_of(resp.results, "chargelist", "charge"))
            if cid
        )
        logger.info("savecharges visit %s: %d charges saved", submission.visit_id, len(ids))
        return SaveChargesResult(submission.visit_id, ids)

    def update_patient(
        self, patient_id: int, fields: Mapping[str, str | None], *, seen_changed_at: datetime
    ) -> datetime | None:
        """updatepatient: set ``fields`` (AdvancedMD attribute names; ``None`` clears) on a patient last seen
        changed at ``seen_changed_at``. AdvancedMD refuses the write with RECORD_CHANGED (an ``AmdFaultError``)
        when someone changed the patient since; returns the patient's new ``changedat``."""
        attrs = {
            "id": patient_id,
            "changedat": format_iso(to_server_naive(seen_changed_at, self.server_tz)),
            **{name: value or "" for name, value in fields.items()},
        }
        resp = self.call("updatepatient", "api", children=[element("patient", attrs)])
        return parse_amd_datetime(resp.results_attr("changedat"), self.server_tz)

    def update_insurance(
        self,
        patient_id: int,
        insurance_id: int,
        *,
        subscriber_number: str | None,
        group_number: str | None,
        seen_changed_at: datetime,
    ) -> datetime | None:
        """updateinsurance: a coverage's member and group numbers, with the same stale-change refusal as
        :meth:`update_patient` (the patient's ``changedat``); returns the patient's new ``changedat``."""
        plan = element(
            "insplan", {"id": insurance_id, "subscribernum": subscriber_number, "grpnum": group_number}
        )
        patient = element(
            "patient",
            {"id": patient_id, "changedat": format_iso(to_server_naive(seen_changed_at, self.server_tz))},
            element("insplanlist", None, plan),
        )
        resp = self.call("updateinsurance", "api", children=[patient])
        return parse_amd_datetime(resp.results_attr("changedat"), self.server_tz)

    # ------------------------------------------------------------------ payments and write-offs

    def get_tx_history(
        self, patient_id: int, *, page: int = 1, from_date: date | None = None, to_date: date | None = None
    ) -> TxHistoryPage:
        """One page of a patient's financial history (gettxhistory, class demographics, tier 2)."""
        attrs: dict[str, object] = {"patientid": patient_id, "pagenumber": page, "typefilter": 0}
        if from_date is not None:
            attrs["fromdate"] = format_us_date(from_date)
        if to_date is not None:
            attrs["todate"] = format_us_date(to_date)
        resp = self.call("gettxhistory", "demographics", attrs)
        txs: list[AmdTransaction] = []
        for charge in children_of(resp.results, "chargelist", "charge"):
            charge_id = parse_id(charge.get("id"))
            if charge_id is None or (charge.get("void") or "0") == "1":
                continue
            visit_id = parse_id(charge.get("visit"))
            for list_tag, item_tag, kind in (
                ("paymentlist", "payment", "PAYMENT"),
                ("writeofflist", "writeoff", "WRITEOFF"),
            ):
                for t in children_of(charge, list_tag, item_tag):
                    tx_id, amount = parse_id(t.get("id")), parse_decimal(t.get("amount"))
                    if tx_id is None or amount is None:
                        raise ProtocolError(f"gettxhistory: a {item_tag} without id or amount")
                    txs.append(
                        AmdTransaction(
                            transaction_id=tx_id,
                            charge_id=charge_id,
                            visit_id=visit_id,
                            patient_id=patient_id,
                            kind=kind,
                            amount=amount,
                            transaction_date=parse_amd_date(t.get("date")),
                            source=(t.get("source") or "INS").upper(),
                            code=clean_text(t.get("code")),
                        )
                    )
        return TxHistoryPage(
            tuple(txs),
            parse_int(resp.results_attr("page")) or page,
            parse_int(resp.results_attr("pagecount")) or 1,
            parse_int(resp.results_attr("itemcount")) or 0,
        )

    def iter_tx_history(
        self, patient_id: int, *, from_date: date | None = None, to_date: date | None = None
    ) -> Iterator[AmdTransaction]:
        """Every payment and write-off of a patient (all pages)."""
        page = 1
        while True:
            part = self.get_tx_history(patient_id, page=page, from_date=from_date, to_date=to_date)
            yield from part.transactions
            if page >= part.page_count:
                return
            page += 1

    # ------------------------------------------------------------------ eligibility (270/271)

    def check_eligibility(
        self,
        patient_id: int,
        coverage_id: int,
        *,
        service_type: str = "30",
        use_cache: bool = True,
        first_poll: float = 2.0,
        max_wait: float = 30.0,
    ) -> EligibilityResult:
        """Two-call flow: submitdemandrequest, then poll CheckEligibilityResponse.

        Results (active, inactive or payer-rejected) are cached for 24 hours per patient,
        coverage and service type; transport/clearinghouse errors are not cached.
        """
        key = (patient_id, coverage_id, service_type)
        now = self._clock.now()
        cached = self._elig_cache.get(key)
        if use_cache and cached is not None and now < cached.checked_at + self._elig_ttl:
            return replace(cached, from_cache=True)
        resp = self.call(
            "submitdemandrequest",
            "atseligibility",
            {"patientid": patient_id, "insurancecoverageid": coverage_id, "eligibilitystc": service_type},
        )
        eligibility_id = parse_id(resp.results_attr("eligibilityid"))
        if eligibility_id is None:
            raise ProtocolError("submitdemandrequest answered without eligibilityid")
        deadline = now + timedelta(seconds=max_wait)
        delay = first_poll
        while True:
            self._wait(delay, "checkeligibilityresponse", "polling an eligibility answer")
            r = self.call("checkeligibilityresponse", "eligibility", {"eligibilityid": eligibility_id})
            el = r.results.find("eligibility") if r.results is not None else None
            status = parse_int(el.get("eligibilitystatusid")) if el is not None else None
            if el is None or status == 1:
                if self._clock.now() >= deadline:
                    raise EligibilityTimeoutError(
                        f"eligibility {eligibility_id} still pending after {max_wait}s"
                    )
                delay = min(delay * 2, 8.0)
                continue
            result = self._parse_eligibility(
                el, patient_id, coverage_id, service_type, eligibility_id, status
            )
            if result.status != "ERROR":
                self._elig_cache[key] = result
            logger.info("eligibility %s for patient %s: %s", eligibility_id, patient_id, result.status)
            return result

    def _parse_eligibility(
        self,
        el: ET.Element,
        patient_id: int,
        coverage_id: int,
        stc: str,
        eligibility_id: int,
        status: int | None,
    ) -> EligibilityResult:
        checked_at = parse_amd_datetime(el.get("responsedate"), self.server_tz) or self._clock.now()
        x12 = el.find("x12_271")
        eligible: bool | None = None
        outcome = "ERROR"
        plan = None
        copay = deductible = remaining = None
        reject = None
        if status == 2 and x12 is not None:
            for seg in x12.iter("AAA"):
                reject = seg.get("aaa03")
                outcome = "REJECTED"
            for seg in x12.iter("EB"):
                code = (seg.get("eb01") or "").upper()
                amount = parse_decimal(seg.get("eb07"))
                if code in {"1", "2", "3", "4", "5"}:
                    eligible, outcome = True, "ACTIVE"
                    plan = clean_text(seg.get("eb05")) or plan
                elif code == "6" and eligible is None:
                    eligible, outcome = False, "INACTIVE"
                elif code == "B" and amount is not None:
                    copay = amount
                elif code == "C" and amount is not None:
                    if seg.get("eb06") == "29":
                        remaining = amount
                    else:
                        deductible = amount
        return EligibilityResult(
            patient_id=patient_id,
            coverage_id=coverage_id,
            service_type=stc,
            eligibility_id=eligibility_id,
            status=outcome,
            eligible=eligible,
            plan_name=plan,
            copay=copay,
            deductible=deductible,
            deductible_remaining=remaining,
            reject_reason=reject,
            checked_at=checked_at,
        )

    # ------------------------------------------------------------------ charge detail

    def get_charge_billing(self, charge_id: int) -> ChargeBilling:
        """A charge's billing to insurance (getchargedetaildataicd10): date billed and carrier."""
        resp = self.call("getchargedetaildataicd10", "demographics", {"chargeid": charge_id})
        el = resp.results.find("charge") if resp.results is not None else None
        if el is None:
            raise ProtocolError("getchargedetaildataicd10 answered without a charge")
        a = lower_attrs(el)
        return ChargeBilling(
            charge_id=charge_id,
            date_billed=parse_amd_date(a.get("datebilled")),
            carrier_code=clean_text(a.get("lastbilledcarrier")),
        )

    # ------------------------------------------------------------------ claim status (276/277)

    def get_claim_status(self, visit_id: int, carrier_code: str) -> ClaimStatusResult:
        """Claim status for a visit's claims with a carrier, with 277 category codes."""
        resp = self.call("request", "claimstatus", {"carriercode": carrier_code, "visitid": visit_id})
        claims: list[ClaimStatusEntry] = []
        for cs in children_of(resp.results, "claimstatuslist", "claimstatus"):
            details = tuple(
                ClaimStatusDetail(
                    category_code=(d.get("categorycode") or "").strip().upper(),
                    category_description=describe_category(d.get("categorycode") or ""),
                    status_code=(d.get("statuscode") or None),
                    payment_amount=parse_decimal(d.get("paymentamount")),
                    icn=d.get("icnnumber") or None,
                )
                for d in cs.findall("claimstatusdetail")
            )
            claims.append(
                ClaimStatusEntry(
                    claim_id=parse_id(cs.get("claimid")),
                    request_status_id=parse_int(cs.get("requeststatusid")),
                    verified_at=parse_amd_datetime(cs.get("verifiedat"), self.server_tz),
                    details=details,
                )
            )
        return ClaimStatusResult(visit_id, carrier_code.strip().upper(), tuple(claims))


__all__ = [
    "AdvancedMDClient",
    "ApiUrls",
    "ClientStats",
    "DateVisits",
    "LookupPage",
    "PatientUpdates",
    "SaveChargesResult",
    "Session",
    "VisitUpdates",
    "derive_urls",
    "next_midnight",
]
