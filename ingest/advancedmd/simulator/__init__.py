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
from ingest.advancedmd.simulator.server import (
    FaultConfig,
    SimulatorConfig,
    SimulatorCounters,
    SimulatorHandle,
    start_simulator,
)

__all__ = [
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
    "main",
    "start_simulator",
]
