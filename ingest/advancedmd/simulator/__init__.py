"""Local AdvancedMD simulator: a real loopback HTTP server plus a synthetic, mutable dataset.

Python API::

    with start_simulator(SimulatorDataset.synthetic(seed=1), SimulatorConfig(), clock=clock) as sim:
        client = AdvancedMDClient(sim.credentials(), clock=clock)

Command line: ``python -m ingest.advancedmd.simulator --port 8765 --seed 1`` (see :func:`main`).
"""

from ingest.advancedmd.simulator.cli import main
from ingest.advancedmd.simulator.dataset import (
    ChangeEvent,
    ChargeSpec,
    SimCharge,
    SimClaimStatus,
    SimEligibility,
    SimInsurance,
    SimPatient,
    SimProcCode,
    SimProvider,
    SimulatorDataset,
    SimVisit,
)
from ingest.advancedmd.simulator.from_practice import (
    APPT_STATUS_TO_AMD,
    dataset_from_practice,
    dataset_from_store,
    simulator_clock_start,
    synthetic_practice_dataset,
)
from ingest.advancedmd.simulator.server import (
    FaultConfig,
    SimulatorConfig,
    SimulatorCounters,
    SimulatorHandle,
    start_simulator,
)

__all__ = [
    "APPT_STATUS_TO_AMD",
    "ChangeEvent",
    "ChargeSpec",
    "FaultConfig",
    "SimCharge",
    "SimClaimStatus",
    "SimEligibility",
    "SimInsurance",
    "SimPatient",
    "SimProcCode",
    "SimProvider",
    "SimVisit",
    "SimulatorConfig",
    "SimulatorCounters",
    "SimulatorDataset",
    "SimulatorHandle",
    "dataset_from_practice",
    "dataset_from_store",
    "main",
    "simulator_clock_start",
    "start_simulator",
    "synthetic_practice_dataset",
]
