"""AdvancedMD integration: client, sync, watermarks, schemas and a local simulator.

No Dagster imports here: orchestration wraps these plain functions elsewhere.
"""

from ingest.advancedmd.charges import ChargeLine, ChargeSubmission, ChargeValidationError
from ingest.advancedmd.client import AdvancedMDClient
from ingest.advancedmd.clock import Clock, FakeClock, SystemClock
from ingest.advancedmd.credentials import AmdCredentials, load_credentials
from ingest.advancedmd.ratelimit import RateLimiter, RetryPolicy, Tier, is_peak, tier_for
from ingest.advancedmd.records import AmdCharge, AmdInsurance, AmdPatient, AmdVisit
from ingest.advancedmd.sync import MemorySink, Sink, SyncBatch, SyncResult, sync_patients, sync_visits
from ingest.advancedmd.watermarks import InMemoryWatermarkStore, SqlWatermarkStore, WatermarkStore

__all__ = [
    "AdvancedMDClient",
    "AmdCharge",
    "AmdCredentials",
    "AmdInsurance",
    "AmdPatient",
    "AmdVisit",
    "ChargeLine",
    "ChargeSubmission",
    "ChargeValidationError",
    "Clock",
    "FakeClock",
    "InMemoryWatermarkStore",
    "MemorySink",
    "RateLimiter",
    "RetryPolicy",
    "Sink",
    "SqlWatermarkStore",
    "SyncBatch",
    "SyncResult",
    "SystemClock",
    "Tier",
    "WatermarkStore",
    "is_peak",
    "load_credentials",
    "sync_patients",
    "sync_visits",
    "tier_for",
]
