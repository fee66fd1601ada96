"""`mentalspace`: the platform's command line.

    mentalspace init                 create or upgrade the operational store's schema
    mentalspace generate             load a synthetic practice into the store
    mentalspace build                store -> warehouse -> dbt, through Dagster (no serving)
    mentalspace serve                serve the Dagster UI and the Streamlit dashboards
    mentalspace demo                 build, then serve
    mentalspace era parse FILE       read an 835 remittance
    mentalspace era generate|post|review   synthetic remittances, matching and posting, review queue
    mentalspace amd sync             one incremental AdvancedMD sync through Dagster (the first is the initial load)
    mentalspace amd backfill         replace AdvancedMD visits and charges of a date range, one Dagster run per day
    mentalspace amd link-provider    link an AdvancedMD provider profile to a clinician by hand (when NPIs differ)
    mentalspace amd resolve-demographics  decide a demographics conflict (both sides changed a client)
    mentalspace amd-sim              run the local AdvancedMD simulator
    mentalspace metrics backfill     recompute the measures of the months covering a date range (or --full)
    mentalspace users ...            staff accounts: create, roles, unlock, MFA reset, HIPAA training (users --help)
    mentalspace audit verify|export|purge   the audit log's hash chain, daily files and 7-year retention
    mentalspace db grant-app-role ROLE / warehouse grant-analyst ROLE   PostgreSQL roles

Errors are one line on stderr and exit code 2; `--debug` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from mentalspace_cli import notifications as notifications_cli
from mentalspace_cli import users as users_cli
from operational_api.errors import PlatformError
from operational_api.settings import REPO_ROOT, api_port, var_dir

DEMO_CLINICIANS = 12
DEMO_MONTHS = 12


class Progress:
    """Numbered steps with timings, so long commands say what they are doing."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.step = 0

    @contextmanager
    def __call__(self, label: str) -> Iterator[None]:
        self.step += 1
        started = time.perf_counter()
        print(f"[{self.step}/{self.total}] {label} ...", flush=True)
        yield
        print(f"      done in {time.perf_counter() - started:.1f} s", flush=True)


def _as_of(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--as-of must be a date like 2026-11-25, not '{value}'") from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not '{value}'") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, not {number}")
    return number


def _practice_args(parser: argparse.ArgumentParser, clinicians: int, months: int) -> None:
    parser.add_argument("--clinicians", type=_positive, default=clinicians, help=f"default {clinicians}")
    parser.add_argument(
        "--months", type=_positive, default=months, help=f"months of history, default {months}"
    )
    parser.add_argument("--seed", type=int, default=42, help="same seed + size + as-of date = same data")
    parser.add_argument("--as-of", type=_as_of, default=None, help="last day of history (default: today)")


# ---- commands -------------------------------------------------------------------------------


def cmd_init(_args: argparse.Namespace) -> int:
    from operational_api.db import get_engine, migrate

    engine = get_engine()
    migrate(engine)
    print(f"operational store is at the latest schema ({engine.url.render_as_string(hide_password=True)})")
    return 0


def _refuse_to_lose_records(engine, *, fresh: bool, replace: bool):
    """The store's origin, or a one-line refusal if a new synthetic practice would replace records it must keep.

    An empty store is always fine; one holding only a synthetic practice is replaced when a fresh one was
    asked for (`build --fresh`, `make build`); anything else (a practice's own records, or rows added to a
    synthetic one since) only with an explicit --replace. Called before anything is written."""
    from operational_api.db import store_origin

    origin = store_origin(engine)
    if origin.rows and not replace and not (fresh and origin.generated):
        reason = origin.reason or "it already holds a synthetic practice"
        raise PlatformError(
            f"refusing to replace the operational store at "
            f"{engine.url.render_as_string(hide_password=True)}: {reason}; "
            f"pass --replace to wipe it and load a new synthetic practice"
        )
    return origin


def generate_practice(args: argparse.Namespace, progress: Progress, *, fresh: bool, replace: bool) -> None:
    """Two progress steps: the practice streamed into the store, then the demo sign-ins."""
    from operational_api.db import get_engine, mark_generated, migrate, wipe
    from operational_api.settings import practice_timezone
    from operational_api.synthetic import PracticeSpec, generate_into_store

    engine = get_engine()
    if _refuse_to_lose_records(engine, fresh=fresh, replace=replace).rows:
        wipe(engine)
    migrate(engine)
    spec = PracticeSpec(
        clinicians=args.clinicians,
        months=args.months,
        seed=args.seed,
        as_of=args.as_of or dt.date.today(),
        timezone=practice_timezone(),
    )
    with progress(
        f"generating a {spec.clinicians}-clinician practice, {spec.months} months to {spec.as_of} "
        f"(seed {spec.seed}) into the operational store"
    ):
        reported = [time.perf_counter()]

        def report(rows: int) -> None:
            # A line every few seconds: a large practice streams for minutes, a small one in one chunk.
            if time.perf_counter() - reported[0] >= 5:
                reported[0] = time.perf_counter()
                print(f"      {rows:,} rows so far", flush=True)

        counts = generate_into_store(engine, spec, on_chunk=report)
        print(f"      {sum(counts.values()):,} rows in {len(counts)} tables", flush=True)
    with progress("setting one demo sign-in per staff role"):
        _set_demo_logins(engine, spec.as_of, spec.seed)
    mark_generated(engine, seed=spec.seed, clinicians=spec.clinicians, months=spec.months, as_of=spec.as_of)


def _set_demo_logins(engine, as_of: dt.date, seed: int) -> None:
    """Give the first staff member of each role whose HIPAA training is current a known password and MFA.

    Synthetic demo only: the passwords are printed by `serve`, and the TOTP secrets are derived from the
    seed (operational_api.mfa.demo_secret) so `mentalspace users totp EMAIL` can print a code on this store.
    Written before the generator's mark, so the demo logins are part of the generated practice.
    """
    from sqlalchemy import func, select

    from operational_api import mfa, passwords
    from operational_api.auth import STAFF_ROLES
    from operational_api.db import session_scope
    from operational_api.models import HipaaTraining, User
    from operational_api.services.rules import local_today, training_current_on

    latest = (
        select(HipaaTraining.user_id, func.max(HipaaTraining.expires_date).label("expires"))
        .group_by(HipaaTraining.user_id)
        .subquery()
    )
    lines = []
    enrolled_at = dt.datetime.combine(as_of, dt.time())
    # Sign-in judges the training on the real date, which may be past a practice generated up to an earlier as-of
    # date: a demo admin current on 25 November was suspended on 6 December.
    judged = max(as_of, local_today(dt.datetime.now(dt.UTC).replace(tzinfo=None)))
    with session_scope(engine) as session:
        for role in STAFF_ROLES:
            # Prefer someone whose training is current: a lapsed one is suspended at sign-in.
            user = session.scalars(
                select(User)
                .outerjoin(latest, latest.c.user_id == User.id)
                .where(User.role == role)
                .order_by((func.coalesce(latest.c.expires, judged) <= judged), User.id)
                .limit(1)
            ).first()
            if user is None:
                continue
            if not training_current_on(session, user.id, judged):
                # Nobody of this role is current (a one-person role with a lapse): the demo user renews, or
                # the demo could not show that role at all.
                session.add(
                    HipaaTraining(
                        user_id=user.id, completed_date=judged, expires_date=judged + dt.timedelta(days=365)
                    )
                )
            password = demo_password(role)
            user.password_hash = passwords.hash_password(password)
            user.failed_login_count = 0
            user.locked_at = None
            user.mfa_secret = mfa.demo_secret(seed, user.email)
            user.mfa_enrolled_at = enrolled_at
            user.mfa_last_step = None
            lines.append((role, user.email, password))
    with open(var_dir() / "demo_logins.txt", "w") as out:
        for role, email, password in lines:
            out.write(f"{role}\t{email}\t{password}\n")


def demo_password(role: str) -> str:
    """The demo's password for a role: meets the policy (12+ characters, all four classes), easy to type."""
    return f"Demo-{role.title().replace('_', '-')}-2026!"


def cmd_generate(args: argparse.Namespace) -> int:
    generate_practice(args, Progress(2), fresh=False, replace=args.replace)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from operational_api.db import get_engine, migrate

    if args.as_of:
        # The warehouse's "today" (point-in-time measures, alerts) follows the practice's as-of date.
        os.environ["MENTALSPACE_AS_OF_DATE"] = args.as_of.isoformat()
    # Checked before the slow start (Dagster, the dbt parse) so a refusal is immediate. Without --fresh
    # an empty store gets the synthetic practice and any other is built from as it is.
    origin = _refuse_to_lose_records(get_engine(), fresh=args.fresh, replace=args.replace or not args.fresh)
    regenerate = args.fresh or not origin.rows

    from mentalspace_platform.environment import current_environment
    from mentalspace_platform.warehouse import staged_build
    from orchestration.defs.dbt.project import parse_in_background

    # Into a copy of the warehouse, swapped in whole at the end: the dashboards keep reading the previous one
    # meanwhile (and never hold up the build), and a failed build leaves it as it was. Entered before the
    # dbt parse starts, so the parse and the build see the same profile (dbt re-parses when it changes).
    with staged_build(current_environment()):
        wait_for_parse = parse_in_background()
        progress = Progress(5 if regenerate else 3)
        if regenerate:
            generate_practice(args, progress, fresh=True, replace=args.replace)
        else:
            print("operational store already holds a practice: building from it (use --fresh to regenerate)")
            # A store written by an earlier release gets the current schema first, as `init` would give it.
            migrate(get_engine())
        with progress("loading the Dagster definitions (parses the dbt project when it changed)"):
            from orchestration.lib.runner import load_definitions

            wait_for_parse()
            defs = load_definitions()
        from orchestration.lib.runner import materialize_groups

        with progress("landing the operational store in the warehouse (raw_operational)"):
            materialize_groups(defs, "operational", "era_setup", "advancedmd_setup")
        with progress("running dbt build (staging, marts, metrics and tests)"):
            materialize_groups(defs)
    _print_kvr_summary()
    return 0


def _print_kvr_summary() -> None:
    from mentalspace_platform.environment import current_environment
    from mentalspace_platform.warehouse import Warehouse

    frame = Warehouse(current_environment()).query(
        "select period_start, numerator, denominator, metric_value from marts.fct_practice_metrics "
        "where metric_key = 'kept_visit_rate' and scope = 'practice' and period_grain = 'month' "
        "order by period_start desc limit 3"
    )
    print("practice Kept Visit Rate, latest months (completed / final-status appointments):")
    for row in frame.iter_rows(named=True):
        print(
            f"  {row['period_start']:%Y-%m}: {float(row['metric_value']):.1f}% "
            f"({int(row['numerator'])} of {int(row['denominator'])})"
        )


def cmd_serve(args: argparse.Namespace) -> int:
    if args.api_port is None:
        try:
            args.api_port = api_port()
        except ValueError as exc:
            raise PlatformError(str(exc)) from None
    from mentalspace_cli.notifications import start_loopback_if_needed, start_sms_simulator_if_needed

    env = {**os.environ, "DAGSTER_HOME": str(_dagster_home())}
    bin_dir = os.path.dirname(sys.executable)
    # SIGTERM (a service manager, `kill`) must stop the servers as Ctrl+C does: Python's default action for it
    # exits at once, without the `finally` below, and leaves every server running on its port.
    # SIGINT too: a process started in the background inherits it ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    mail_server = start_loopback_if_needed(env)  # sets env["SMTP_URL"] for Dagster and the pages
    sms_server = start_sms_simulator_if_needed(env)  # sets env["SMS_URL"] (and its demo account)
    processes = [
        *([mail_server] if mail_server else []),
        *([sms_server] if sms_server else []),
        subprocess.Popen(
            # `dagster dev` = the web UI plus the daemon that runs schedules and sensors (ERA inbox).
            [
                os.path.join(bin_dir, "dagster"),
                "dev",
                "-w",
                str(REPO_ROOT / "workspace.yaml"),
                "-h",
                args.host,
                "-p",
                str(args.dagster_port),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [
                os.path.join(bin_dir, "streamlit"),
                "run",
                str(REPO_ROOT / "dashboards" / "streamlit_app.py"),
                "--server.address",
                args.host,
                "--server.port",
                str(args.streamlit_port),
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        ),
        # The operational API (operational_api/api): uvicorn on loopback; its errors go to this terminal.
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "operational_api.api.server",
                "--host",
                args.host,
                "--port",
                str(args.api_port),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        ),
        # The analysts' catalog (dbt's docs site, rewritten by every build): static files, so a small server.
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mentalspace_platform.catalog",
                "--host",
                args.host,
                "--port",
                str(args.catalog_port),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        ),
    ]
    print(f"Dagster UI:            http://{args.host}:{args.dagster_port}")
    print(f"Streamlit dashboards:  http://{args.host}:{args.streamlit_port}")
    print(f"Operational API:       http://{args.host}:{args.api_port}  (OpenAPI at /docs)")
    print(
        f"Analysts' catalog:     http://{args.host}:{args.catalog_port}  (tables, grains, column conventions)"
    )
    logins = var_dir() / "demo_logins.txt"
    if logins.exists():
        print("Demo sign-ins (role, email, password):")
        print("".join(f"  {line}\n" for line in logins.read_text().splitlines()), end="")
        print(
            "Each also asks for an MFA code: in another terminal run\n"
            "  .venv/bin/mentalspace users totp EMAIL\n"
            "(prints the demo user's current 6-digit code; it works on the generated demo store only)."
        )
    print("Press Ctrl+C to stop.", flush=True)
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        failed = [_process_name(p) for p in processes if p.poll() not in (None, 0)]
        if failed:
            raise PlatformError(f"{os.path.basename(failed[0])} stopped unexpectedly (port already in use?)")
    except KeyboardInterrupt:
        pass
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _process_name(process: subprocess.Popen) -> str:
    if process.args[0] != sys.executable:
        return process.args[0]
    return (
        "the analysts' catalog" if "mentalspace_platform.catalog" in process.args else "the operational API"
    )


def cmd_demo(args: argparse.Namespace) -> int:
    cmd_build(args)
    return cmd_serve(args)


def cmd_era(args: argparse.Namespace) -> int:
    era_args = list(args.era_args)
    if era_args and era_args[0] in ("generate", "post", "review"):
        from operational_api.era.cli import main as store_era_main

        return store_era_main(era_args, debug=args.debug)
    from edi835.cli import main as era_main

    return era_main(era_args)


def cmd_amd_sim(args: argparse.Namespace) -> int:
    from ingest.advancedmd.simulator import main as sim_main

    return sim_main(args.sim_args)


AMD_PARTNER_LOGIN_PATH = "/practicemanager/xmlrpc/processrequest.aspx"


def _login_url(base_url: str) -> str:
    """`--base-url http://127.0.0.1:8765` (a running `amd-sim`, a sandbox) -> its partner login URL."""
    from urllib.parse import urlparse

    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise PlatformError(f"--base-url must look like http://127.0.0.1:8765, not '{base_url}'")
    if parsed.path.strip("/"):
        return base_url
    return base_url.rstrip("/") + AMD_PARTNER_LOGIN_PATH


def _amd_definitions(args: argparse.Namespace):
    """The AdvancedMD domain's definitions; simulator options replace the simulated practice, --base-url
    (or MENTALSPACE_ADVANCEDMD=live) uses the real client against AMD_LOGIN_URL's host."""
    from mentalspace_platform.environment import current_environment, missing_advancedmd_credentials
    from operational_api.db import get_engine, migrate
    from orchestration.defs.advancedmd.definitions import standalone_definitions
    from orchestration.defs.advancedmd.resources import SimulatedAdvancedMDResource, live_resource

    if not args.debug:
        # The client's retry warnings would reach stderr through logging's last-resort handler; the promise
        # is one line. The Dagster run keeps the step's failure; the client's stats count the retries.
        import logging

        logging.getLogger("ingest.advancedmd").addHandler(logging.NullHandler())
    env = current_environment()
    chosen = {
        k: getattr(args, k) for k in ("clinicians", "months", "seed", "as_of") if getattr(args, k) is not None
    }
    resource = None
    base_url = getattr(args, "base_url", None)
    source = env.advancedmd_source
    if base_url or source == "live":
        if chosen:
            raise PlatformError(
                "--clinicians/--months/--seed/--as-of choose the built-in simulator's practice; "
                "they do not apply to " + ("--base-url" if base_url else "MENTALSPACE_ADVANCEDMD=live")
            )
        missing = missing_advancedmd_credentials()
        if missing:
            raise PlatformError(
                f"AdvancedMD credentials missing: set {', '.join(missing)}"
                + (" (a running amd-sim prints its own)" if base_url else "")
            )
        resource = live_resource(_login_url(base_url) if base_url else "")
        source = f"live at {base_url}" if base_url else "live"
        chosen = {}
    if chosen:
        if env.advancedmd_source != "simulator":
            raise PlatformError(
                "--clinicians/--months/--seed/--as-of choose the simulated practice, "
                "but MENTALSPACE_ADVANCEDMD is 'live'"
            )
        if "as_of" in chosen:
            chosen["as_of"] = chosen["as_of"].isoformat()
        resource = SimulatedAdvancedMDResource(**{"as_of": env.as_of_date, **chosen})
    # The sync keeps its watermarks and patient links in the store: make sure its schema is current.
    migrate(get_engine())
    return standalone_definitions(resource), source


# A failed AdvancedMD run is the command's one error line; the step's traceback stays in the Dagster UI.
AMD_RUN_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _metadata(result, asset: str) -> dict[str, object]:
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key.to_user_string() == asset:
            return {k: v.value for k, v in materialization.metadata.items()}
    return {}


def cmd_amd_sync(args: argparse.Namespace) -> int:
    from orchestration.lib.runner import run_job

    defs, source = _amd_definitions(args)
    from orchestration.defs.advancedmd.assets import advancedmd_visit_updates

    config = {}
    if args.initial_start or args.initial_end:
        config = {
            "ops": {
                advancedmd_visit_updates.op.name: {
                    "config": {
                        k: v.isoformat()
                        for k, v in (("initial_start", args.initial_start), ("initial_end", args.initial_end))
                        if v
                    }
                }
            }
        }
    with Progress(1)(
        f"syncing AdvancedMD ({source}): patients, patient links, visits and charges, providers"
    ):
        result = run_job(defs, "advancedmd_sync_job", run_config={**AMD_RUN_LOGS, **config})
    patients, links = _metadata(result, "advancedmd/patients"), _metadata(result, "advancedmd/patient_links")
    visits = _metadata(result, "advancedmd/visit_updates")
    print(
        f"      patients ({patients.get('mode')}): {patients.get('patients_landed', 0)} landed, "
        f"{patients.get('patients_deleted', 0)} deleted, {patients.get('patients_quarantined', 0)} quarantined; "
        f"{patients.get('insurance_landed', 0)} coverages; {patients.get('http_requests', 0)} API requests"
    )
    print(
        f"      links: {links.get('linked', 0)} linked, {links.get('unmatched', 0)} unmatched, "
        f"{links.get('deleted', 0)} deleted in AdvancedMD"
    )
    window = f" {visits['initial_start']}..{visits['initial_end']}" if "initial_start" in visits else ""
    print(
        f"      visits ({visits.get('mode')}{window}): {visits.get('visits_landed', 0)} landed, "
        f"{visits.get('visits_deleted', 0)} deleted, {visits.get('visits_quarantined', 0)} quarantined; "
        f"charges {visits.get('charges_landed', 0)} landed, {visits.get('charges_deleted', 0)} deleted, "
        f"{visits.get('charges_quarantined', 0)} quarantined; {visits.get('http_requests', 0)} API requests"
    )
    providers = _metadata(result, "advancedmd/provider_links")
    print(
        f"      providers: {providers.get('linked_by_npi', 0)} linked by NPI, "
        f"{providers.get('linked_by_admin', 0)} by an administrator, {providers.get('unmatched', 0)} unmatched"
    )
    print(f"      Dagster run {result.run_id}")
    return 0


def cmd_amd_backfill(args: argparse.Namespace) -> int:
    from orchestration.defs.advancedmd.partitions import ADVANCEDMD_DAYS
    from orchestration.lib.runner import run_job

    if args.end < args.start:
        raise PlatformError(f"--end {args.end} is before --start {args.start}")
    days = [args.start + dt.timedelta(days=i) for i in range((args.end - args.start).days + 1)]
    known = set(ADVANCEDMD_DAYS.get_partition_keys())
    outside = [d for d in days if d.isoformat() not in known]
    if outside:
        raise PlatformError(
            f"{outside[0]} is not an AdvancedMD partition (days from "
            f"{ADVANCEDMD_DAYS.start:%Y-%m-%d} to {ADVANCEDMD_DAYS.get_last_partition_key()})"
        )
    defs, source = _amd_definitions(args)
    chunks = [days[i : i + args.days_per_run] for i in range(0, len(days), args.days_per_run)]
    print(
        f"backfilling AdvancedMD ({source}) visits and charges for {len(days)} days, {days[0]}..{days[-1]}: "
        f"advancedmd_visit_days_job, {len(chunks)} run(s) of up to {args.days_per_run} days",
        flush=True,
    )
    started = time.perf_counter()
    totals = {"visits": 0, "charges": 0, "quarantined": 0}
    done = 0
    width = len(str(len(days)))
    for chunk in chunks:
        t0 = time.perf_counter()
        result = run_job(
            defs,
            "advancedmd_visit_days_job",
            partition_range=(chunk[0].isoformat(), chunk[-1].isoformat()),
            run_config=AMD_RUN_LOGS,
        )
        per_day = _metadata(result, "advancedmd/visits").get("per_day") or {}
        for day in chunk:
            counts = per_day.get(day.isoformat(), {})
            done += 1
            for key in totals:
                totals[key] += int(counts.get(key, 0))
            print(
                f"[{done:>{width}}/{len(days)}] {day}: {counts.get('visits', 0)} visits, "
                f"{counts.get('charges', 0)} charges, {counts.get('quarantined', 0)} quarantined",
                flush=True,
            )
        print(
            f"      run {result.run_id[:8]}: {len(chunk)} days in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    print(
        f"done: {len(days)} days, {totals['visits']} visits, {totals['charges']} charges, "
        f"{totals['quarantined']} quarantined in {time.perf_counter() - started:.1f} s"
    )
    return 0


def cmd_amd_link_provider(args: argparse.Namespace) -> int:
    from operational_api.db import get_engine, migrate
    from orchestration.defs.advancedmd.provider_links import set_admin_link
    from orchestration.defs.advancedmd.resources import DEFAULT_OFFICE_KEY

    if (args.clinician is None) == (not args.remove):
        raise PlatformError("give --clinician ID to link the provider, or --remove to drop the link")
    office_key = args.office_key or os.environ.get("AMD_OFFICE_KEY", "").strip() or DEFAULT_OFFICE_KEY
    if not office_key.isdigit():
        raise PlatformError(f"office key must be digits (--office-key or AMD_OFFICE_KEY), not '{office_key}'")
    engine = get_engine()
    migrate(engine)
    print(f"office {office_key}: " + set_admin_link(engine, office_key, args.provider_code, args.clinician))
    return 0


def cmd_amd_resolve_demographics(args: argparse.Namespace) -> int:
    from sqlalchemy import text

    from ingest.advancedmd.demographics import resolve_conflict
    from mentalspace_platform.environment import current_environment
    from mentalspace_platform.landing.advancedmd import RAW_SCHEMA
    from mentalspace_platform.warehouse import Warehouse
    from operational_api.db import get_engine, migrate
    from orchestration.defs.advancedmd.resources import DEFAULT_OFFICE_KEY

    office_key = args.office_key or os.environ.get("AMD_OFFICE_KEY", "").strip() or DEFAULT_OFFICE_KEY
    engine = get_engine()
    migrate(engine)
    with engine.connect() as conn:
        patient_id = conn.execute(
            text(
                "select advancedmd_patient_id from advancedmd_demographic_sync"
                " where office_key = :o and client_id = :c"
            ),
            {"o": office_key, "c": args.client},
        ).scalar()
    landed = None
    if patient_id is not None:
        wh = Warehouse(current_environment())
        ph = "?" if wh.kind == "duckdb" else "%s"
        rows = wh.query(
            f"select changed_at from {RAW_SCHEMA}.patients where office_key = {ph} and patient_id = {ph}",
            [office_key, patient_id],
        )
        landed = rows.item() if rows.height else None
    resolve_conflict(engine, office_key, args.client, args.keep, landed_changed_at=landed)
    kept = (
        "the store's values go to AdvancedMD with the next patient sync"
        if args.keep == "store"
        else ("AdvancedMD's values stay; copy them into the client's record where they should")
    )
    print(f"office {office_key}, client {args.client}: conflict resolved, {kept}")
    return 0


DAGSTER_YAML = """\
event_log_storage:
  module: orchestration.lib.event_log_storage
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {runs_dir}
telemetry:
  enabled: false
"""


def _dagster_home():
    home = var_dir() / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    # Everything under this folder (Dagster's defaults), with the event log keeping its SQLite
    # connections open between events (orchestration/lib/event_log_storage.py says why).
    config = home / "dagster.yaml"
    wanted = DAGSTER_YAML.format(runs_dir=json.dumps(str(home / "history" / "runs")))
    if not config.exists() or config.read_text() != wanted:
        config.write_text(wanted)
    os.environ.setdefault("DAGSTER_HOME", str(home))
    return home


# ---- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mentalspace", description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("init", help="create or upgrade the operational store's schema").set_defaults(
        func=cmd_init
    )

    p = sub.add_parser("generate", help="load a synthetic practice into the operational store")
    _practice_args(p, DEMO_CLINICIANS, DEMO_MONTHS)
    p.add_argument(
        "--replace", action="store_true", help="wipe the store first if it holds data, whoever made it"
    )
    p.set_defaults(func=cmd_generate)

    for name, func, helptext in (
        ("build", cmd_build, "store -> warehouse -> dbt through Dagster, without serving"),
        ("demo", cmd_demo, "build the demo practice, then serve both UIs"),
    ):
        p = sub.add_parser(name, help=helptext)
        _practice_args(p, DEMO_CLINICIANS, DEMO_MONTHS)
        p.add_argument(
            "--fresh",
            action="store_true",
            help="regenerate the synthetic practice first (refused if the store holds other records)",
        )
        p.add_argument(
            "--replace",
            action="store_true",
            help="with --fresh: wipe the store even if it holds records the generator did not make",
        )
        if name == "demo":
            _serve_args(p)
        p.set_defaults(func=func)

    p = sub.add_parser("serve", help="serve the Dagster UI and the Streamlit dashboards")
    _serve_args(p)
    p.set_defaults(func=cmd_serve)
    notifications_cli.register(sub)

    p = sub.add_parser(
        "era", help="ERA / 835 tools: era parse FILE [--json] | generate --out DIR | post FILE | review"
    )
    p.add_argument("era_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_era)

    p = sub.add_parser(
        "amd", help="AdvancedMD sync through Dagster: amd sync | amd backfill --start D --end D"
    )
    amd = p.add_subparsers(dest="amd_command", required=True)
    q = amd.add_parser(
        "sync", help="one incremental sync (patients, links, visits); the first run is the initial load"
    )
    q.add_argument(
        "--initial-start",
        type=_as_of,
        default=None,
        help="first day of the initial visit load (default 30 days back; ignored once synced)",
    )
    q.add_argument(
        "--initial-end",
        type=_as_of,
        default=None,
        help="last day of the initial visit load (default 30 days ahead)",
    )
    _amd_simulator_args(q)
    q.set_defaults(func=cmd_amd_sync)
    q = amd.add_parser("backfill", help="replace the visits and charges of each day from --start to --end")
    q.add_argument("--start", type=_as_of, required=True, help="first date of service, YYYY-MM-DD")
    q.add_argument("--end", type=_as_of, required=True, help="last date of service, YYYY-MM-DD")
    q.add_argument(
        "--days-per-run",
        type=_positive,
        default=10,
        help="days replaced per Dagster run (default 10; each day is its own transaction)",
    )
    _amd_simulator_args(q)
    q.set_defaults(func=cmd_amd_backfill)
    q = amd.add_parser(
        "link-provider",
        help="an administrator's link of an AdvancedMD provider profile to a clinician (when NPIs do not match)",
    )
    q.add_argument("provider_code", help="the AdvancedMD provider profile code")
    q.add_argument("--clinician", type=_positive, default=None, help="our clinician's user id")
    q.add_argument("--remove", action="store_true", help="drop the administrator's link")
    q.add_argument("--office-key", default=None, help="default: AMD_OFFICE_KEY, else the simulator's 991001")
    q.set_defaults(func=cmd_amd_link_provider)
    q = amd.add_parser(
        "resolve-demographics",
        help="decide an AdvancedMD demographics conflict: keep the store's values (pushed) or AdvancedMD's",
    )
    q.add_argument("client", type=_positive, help="our client's id")
    q.add_argument("--keep", required=True, choices=("store", "advancedmd"), help="whose values stand")
    q.add_argument("--office-key", default=None, help="default: AMD_OFFICE_KEY, else the simulator's 991001")
    q.set_defaults(func=cmd_amd_resolve_demographics)

    users_cli.register(sub)

    from mentalspace_cli import audit as audit_commands
    from mentalspace_cli import metrics as metrics_commands
    from mentalspace_cli import roles as role_commands

    audit_commands.register(sub)
    metrics_commands.register(sub)
    role_commands.register(sub)

    # add_help=False: `amd-sim --help` is the simulator's own help (see PASSTHROUGH in main).
    p = sub.add_parser("amd-sim", help="run the local AdvancedMD simulator (amd-sim --help)", add_help=False)
    p.add_argument("sim_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_amd_sim)
    return parser


def _amd_simulator_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "simulator",
        "the practice the local simulator serves (default: the demo's, as `mentalspace generate`)",
    )
    group.add_argument("--clinicians", type=_positive, default=None)
    group.add_argument("--months", type=_positive, default=None)
    group.add_argument("--seed", type=int, default=None)
    group.add_argument("--as-of", type=_as_of, default=None, help="last day of the practice's history")
    parser.add_argument(
        "--base-url",
        default=None,
        help="talk to AdvancedMD-compatible API at this URL (a running `mentalspace amd-sim`, a sandbox) "
        "with the AMD_* credentials, instead of the built-in simulator",
    )


def _serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dagster-port", type=int, default=3000)
    parser.add_argument("--streamlit-port", type=int, default=8501)
    parser.add_argument("--api-port", type=int, default=None, help="default: MENTALSPACE_API_PORT or 8000")
    parser.add_argument("--catalog-port", type=int, default=8580, help="the analysts' catalog (dbt docs)")


# Commands whose arguments (--help included) belong to another program's parser.
PASSTHROUGH = {"amd-sim": "sim_args"}


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    tokens = list(sys.argv[1:] if argv is None else argv)
    for i, token in enumerate(tokens):
        if token.startswith("-"):
            continue
        if token in PASSTHROUGH:
            args = parser.parse_args(tokens[: i + 1])
            setattr(args, PASSTHROUGH[token], tokens[i + 1 :])
            return args
        break
    return parser.parse_args(tokens)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = _parse(parser, argv)
    _dagster_home()
    handler: Callable[[argparse.Namespace], int] = args.func
    try:
        return handler(args)
    except PlatformError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left early (`mentalspace era parse big.835 | head`): stop quietly, as Unix tools do, and
        # point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except Exception as exc:  # the promise is one clear line, whatever went wrong
        if args.debug:
            raise
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"error: {type(exc).__name__}: {first_line} (run with --debug for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
