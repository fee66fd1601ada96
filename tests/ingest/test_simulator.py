"""The simulator seen from raw HTTP (no client code): wire facts, quirks, limits, faults, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from ingest.advancedmd.clock import FakeClock
from ingest.advancedmd.protocol import FaultCode
from ingest.advancedmd.simulator import (
    FaultConfig,
    SimulatorConfig,
    SimulatorDataset,
    SimulatorHandle,
    start_simulator,
)

REPO = Path(__file__).resolve().parents[2]


def login_xml(office_key: str = "991001", password: str = "sim-password") -> str:
    return (
        f'<ppmdmsg action="login" class="login" msgtime="3/10/2025 2:00:00 AM" username="APIUSER" '
        f'psw="{password}" officecode="{office_key}" appname="TEMP"/>'
    )


def raw_login(sim: SimulatorHandle) -> tuple[str, str]:
    step1 = httpx.post(sim.login_url, content=login_xml(), headers={"Content-Type": "text/xml"})
    assert step1.content.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    assert f"<code>{FaultCode.LOGIN_REDIRECT}</code>".encode() in step1.content
    import xml.etree.ElementTree as ET

    root = ET.fromstring(step1.content)
    assert root.tag == "PPMDResults" and root.get("s") and root.get("lst")
    assert root.find("Results").get("success") == "0"
    webserver = root.find("Results/usercontext").get("webserver")
    step2 = httpx.post(
        f"{webserver}/xmlrpc/processrequest.aspx", content=login_xml(), headers={"Content-Type": "text/xml"}
    )
    uc = ET.fromstring(step2.content).find("Results/usercontext")
    return uc.text, f"{webserver}/xmlrpc/processrequest.aspx"


def test_raw_login_redirect_and_token(sim: SimulatorHandle) -> None:
    token, url = raw_login(sim)
    assert token.startswith("991001") and f"/processrequest/{sim.api_host()}/TEMP/" in url
    # Cookie-style token works too.
    body = '<ppmdmsg action="lookuppatient" class="lookup" msgtime="3/10/2025 2:00:00 AM" page="1"/>'
    r = httpx.post(url, content=body, headers={"Content-Type": "text/xml", "Cookie": f"token={token}"})
    assert b'<patientlist itemcount="40"' in r.content
    assert b'id="pat' in r.content  # prefixed ids outside class="api"


def test_wrong_password_fault(sim: SimulatorHandle) -> None:
    r = httpx.post(sim.login_url, content=login_xml(password="nope"), headers={"Content-Type": "text/xml"})
    assert f"<code>{FaultCode.INVALID_CREDENTIALS}</code>".encode() in r.content


def test_json_broker_quirks(sim: SimulatorHandle) -> None:
    token, url = raw_login(sim)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}

    def demographic(pid: int) -> dict:
        msg = {
            "ppmdmsg": {
                "@action": "getdemographic",
                "@class": "demographics",
                "@msgtime": "x",
                "@nocookie": 1,
                "usercontext": token,
                "@patientid": pid,
            }
        }
        return httpx.post(url, json=msg, headers=headers).json()

    ds = sim.dataset
    one = next(p for p in ds.live_patients() if len(p.insurances) == 1)
    two = next(p for p in ds.live_patients() if len(p.insurances) == 2)
    j1 = demographic(one.patient_id)["PPMDResults"]
    j2 = demographic(two.patient_id)["PPMDResults"]
    assert isinstance(j1["Results"]["patientlist"]["patient"]["insplanlist"]["insplan"], dict)
    assert isinstance(j2["Results"]["patientlist"]["patient"]["insplanlist"]["insplan"], list)
    assert j1["Error"] is None  # empty element -> null
    patient = j1["Results"]["patientlist"]["patient"]
    assert patient["@id"] == f"pat{one.patient_id}"
    assert patient["@lastname"] == one.last_name.upper()


def test_getupdated_ids_are_unprefixed_and_dates_mixed(sim: SimulatorHandle) -> None:
    token, url = raw_login(sim)
    body = (
        f'<ppmdmsg action="getupdatedpatients" class="api" msgtime="x" nocookie="1" datechanged="01/01/2000">'
        f'<usercontext>{token}</usercontext><patient changedat="ChangedAt" dob="DOB"/></ppmdmsg>'
    )
    r = httpx.post(url, content=body, headers={"Content-Type": "text/xml"})
    import xml.etree.ElementTree as ET

    pats = ET.fromstring(r.content).findall("Results/patientlist/patient")
    assert len(pats) == 40 and all(p.get("id").isdigit() for p in pats)
    stamps = [p.get("changedat") for p in pats]
    assert any("AM" in s or "PM" in s for s in stamps) and any("T" in s for s in stamps)
    bad = body.replace('dob="DOB"', 'dob="Birthday"')
    r = httpx.post(url, content=bad, headers={"Content-Type": "text/xml"})
    assert f"<code>{FaultCode.INVALID_ATTRIBUTE}</code>".encode() in r.content


def test_excess_calls_are_answered_with_a_fault_and_counted(small_dataset: SimulatorDataset) -> None:
    clock = FakeClock(datetime(2025, 3, 12, 10, 0, tzinfo=ZoneInfo("America/Denver")))  # peak
    with start_simulator(small_dataset, SimulatorConfig(seed=2), clock=clock) as sim:
        token, url = raw_login(sim)
        body = (
            f'<ppmdmsg action="getupdatedvisits" class="api" msgtime="x" nocookie="1" '
            f'datechanged="2025-03-12T09:00:00.000"><usercontext>{token}</usercontext></ppmdmsg>'
        )
        answers = [
            httpx.post(url, content=body, headers={"Content-Type": "text/xml"}).content for _ in range(3)
        ]
        assert b"<Fault>" not in answers[0]
        assert all(b"Too many requests" in a for a in answers[1:])
        assert sim.counters.rate_limit_violations == 2 and sim.counters.violations_by_tier == {1: 2}
        clock.sleep(60)  # next minute: allowed again
        assert b"<Fault>" not in httpx.post(url, content=body, headers={"Content-Type": "text/xml"}).content


def test_fault_injection_is_deterministic(small_dataset: SimulatorDataset) -> None:
    def run() -> list[int]:
        clock = FakeClock(datetime(2025, 3, 10, 2, 0, tzinfo=ZoneInfo("America/Denver")))
        config = SimulatorConfig(seed=3, faults=FaultConfig(http_503_rate=0.3, http_429_rate=0.2, seed=8))
        with start_simulator(small_dataset, config, clock=clock) as sim:
            return [
                httpx.post(
                    sim.login_url, content=login_xml(), headers={"Content-Type": "text/xml"}
                ).status_code
                for _ in range(30)
            ]

    first, second = run(), run()
    assert first == second and {200, 429, 503} <= set(first)


def test_counters_endpoint(sim: SimulatorHandle) -> None:
    raw_login(sim)
    counters = httpx.get(f"{sim.base_url}/_sim/counters").json()
    assert counters["logins"] == 1 and counters["login_redirects"] == 1


def test_cli_serves_until_terminated() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ingest.advancedmd.simulator",
            "--port",
            "0",
            "--seed",
            "4",
            "--patients",
            "12",
            "--days",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["patients"] == 12 and info["office_key"] == "991001"
        r = httpx.post(
            info["login_url"], content=login_xml(), headers={"Content-Type": "text/xml"}, timeout=5
        )
        assert f"<code>{FaultCode.LOGIN_REDIRECT}</code>".encode() in r.content
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert json.loads(out.strip().splitlines()[-1])["stopped"] is True


def test_main_returns_nonzero_when_the_port_is_taken(sim: SimulatorHandle) -> None:
    from ingest.advancedmd.simulator import main

    port = int(sim.base_url.rsplit(":", 1)[1])
    assert main(["--port", str(port), "--patients", "3", "--days", "1"]) == 2
