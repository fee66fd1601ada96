"""`amd-sim` from the command line: several office keys on their own api hosts, an injectable (scaled)
clock, and every fault kind, with the real client getting exact answers through them."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import urllib.request
from datetime import date, datetime, timedelta

from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.clock import ScaledClock
from ingest.advancedmd.credentials import AmdCredentials
from ingest.advancedmd.ratelimit import RateLimiter
from tests.conftest import REPO_ROOT

KEYS = ("991001", "991002")
NEW_KINDS = {"malformed": "malformed_responses", "truncated": "truncated_responses", "500": "injected_500"}


def test_office_keys_clock_and_faults_from_the_command_line():
    args = [
        "--port",
        "0",
        "--patients",
        "4",
        "--days",
        "3",
        "--seed",
        "11",
        "--office-keys",
        ",".join(KEYS),
        "--clock-start",
        "2025-03-10T09:00:00-06:00",  # Monday 09:00 Mountain (MDT): peak
        "--clock-speed",
        "60",
        "--fault-rate",
        "0.1",
        *("--fault", "malformed=0.1", "--fault", "truncated=0.1", "--fault", "session=0.05"),
        *("--fault", "500=0.1"),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest.advancedmd.simulator", *args],
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        hosts = info["api_hosts"]
        assert set(hosts) == set(KEYS) and len(set(hosts.values())) == 2  # each key its own api host
        assert info["clock"]["speed"] == 60 and info["faults"]["malformed_rate"] == 0.1
        clock = ScaledClock(
            datetime.fromisoformat(info["clock"]["start"]), info["clock"]["speed"], info["clock"]["epoch"]
        )
        assert abs((clock.now() - datetime.fromisoformat(info["clock"]["now"])).total_seconds()) < 600
        days = [date(2025, 3, 10) - timedelta(days=i) for i in range(3)]
        for key in KEYS:
            credentials = AmdCredentials(
                username=info["username"],
                password=info["password"],
                office_key=key,
                app_name="TEMP",
                login_url=info["login_url"],
            )
            with AdvancedMDClient(
                credentials, clock=clock, rate_limiter=RateLimiter(clock), rng=random.Random(1), timeout=5
            ) as client:
                pages = list(client.iter_lookup_patients())
                assert sum(len(p.items) for p in pages) == 4
                answers = [  # the same answer every time, through the faults
                    {d: sorted(v.visit_id for v in client.get_date_visits(d).visits) for d in days}
                    for _ in range(4)
                ]
                assert all(a == answers[0] for a in answers) and any(answers[0].values())
                assert client.session is not None and hosts[key] in client.session.webserver
        with urllib.request.urlopen(f"{info['base_url']}/_sim/counters", timeout=5) as resp:
            counters = json.loads(resp.read())
        assert counters["rate_limit_violations"] == 0
        for kind, counter in NEW_KINDS.items():
            assert counters[counter] > 0, f"no {kind} fault injected: {counters}"
        assert counters["sessions_expired_by_injection"] > 0 and counters["dropped_connections"] >= 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
