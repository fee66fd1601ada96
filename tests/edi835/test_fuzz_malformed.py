"""Property: whatever is done to a valid file, only Edi835Error escapes, and no PHI leaks.

Mutations: byte flips, truncations, deleted or duplicated segments, swapped delimiters, and
inserted garbage, applied to the synthetic fixtures and the shared real-world samples.
"""

from __future__ import annotations

import contextlib
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edi835
from edi835 import Edi835Error
from tests.edi835.conftest import FIXTURES, shared_samples_dir

SHARED = shared_samples_dir()
MAX_BASE_BYTES = 32_000


def _base(data: bytes) -> bytes:
    """Large samples are cut after their last complete interchange within the first 32 kB, so
    each example stays fast; files without such a boundary are used whole."""
    if len(data) <= MAX_BASE_BYTES:
        return data
    cut = data.rfind(b"IEA*", 0, MAX_BASE_BYTES)
    end = data.find(b"~", cut) if cut > 0 else -1
    return data[: end + 1] if end > 0 else data


CORPUS = [p.read_bytes() for p in sorted(FIXTURES.glob("*.835"))]
CORPUS += [_base(p.read_bytes()) for p in sorted(SHARED.glob("*.edi"))] if SHARED.exists() else []
# Person names and member IDs of the synthetic fixtures: they must never reach a message.
PHI = re.compile("SYNTHETICLAST|SYNTHETICFIRST|SYNMEMBER0|SYNINSURED|SYNCORRECTED")
DELIMITERS = b"*~:|^>\n\r"


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(
            st.sampled_from(["flip", "truncate", "delete", "duplicate", "swap", "insert", "drop_segment"])
        )
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[at] = draw(st.sampled_from([*DELIMITERS, 0, 0xFF, ord("A"), ord("9"), ord(" ")]))
        elif op == "truncate":
            del data[at:]
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif op == "swap":
            a, b = draw(
                st.sampled_from([(b"*", b"|"), (b"~", b"*"), (b":", b">"), (b"~", b"\n"), (b"*", b"~")])
            )
            end = at + draw(st.integers(1, len(data)))
            data[at:end] = bytes(data[at:end]).replace(a, b"\x00").replace(b, a).replace(b"\x00", b)
        else:
            segments = bytes(data).split(b"~")
            k = draw(st.integers(0, len(segments) - 1))
            if op == "duplicate":
                segments.insert(k, segments[k])
            else:
                del segments[k]
            data = bytearray(b"~".join(segments))
    return bytes(data)


def _exercise(data: bytes) -> list[str]:
    """Parse and touch every public output; return all messages produced."""
    try:
        result = edi835.parse_bytes(data, "fuzz.835")
        summary = result.summary()
        records = result.transactions
        messages = [i.message for i in result.validation.issues] + summary["anomalies"]
        assert len(records) == summary["transaction_count"]
        assert sum(t["clp_count"] for t in summary["transactions"]) == result.claims.height
        return messages
    except Edi835Error as exc:
        return [str(exc)]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(mutated_files())
def test_only_edi835_error_escapes_and_messages_carry_no_phi(data):
    for message in _exercise(data):
        assert not PHI.search(message), message


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_edi835_error(data):
    with contextlib.suppress(Edi835Error):  # anything else escaping fails the test
        edi835.parse_bytes(data, "random.bin")
