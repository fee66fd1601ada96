"""Synthetic X12 835 (005010X221A1) remittances with ground truth, for tests, demos and benchmarks.

Pure: no database, no Dagster. Callers hand in plain :class:`ClaimSpec` records (the operational
store's adapter builds them from claims and charges; :func:`synthetic_claim_specs` invents them for
the benchmark files) and get back the 835 text plus a ground-truth dict that says, for every CLP,
which of our claims and charges it truly belongs to.

    specs = synthetic_claim_specs(1_000, seed=7)
    remittance = generate_remittance(specs, RemittanceOptions(seed=7))
    Path("era.835").write_text(remittance.text)
    json.dumps(remittance.ground_truth)

What a file contains (rates in :class:`RemittanceOptions`): one ST..SE per payer check (a payer's
claims are cut into checks of at most ``max_claims_per_check``); contractual CO-45 with patient
responsibility PR-1/2/3; denials (CO-16, CO-29, CO-97, CO-197) with RARCs; zero-pay claims (all
allowed to the deductible); reversals (CLP02 = 22 negating an earlier payment) and corrections
(reversal + new CLP); PLB interest (L6), overpayment recovery (WO) and forwarding balance (FB) with
references; claims split across two CLPs; and the payer-side noise that makes matching hard:
dropped modifiers, mangled claim control numbers (dropped prefix, transposed digits, the payer's own
ICN, stripped leading zeros, lower case and padding), service dates keyed a day off, missing member
ids and name variants (case, initials, swapped or hyphenated surnames, a typo).

Every file balances (BPR02 = sum CLP04 - sum PLB; CLP03 - CLP04 = claim + line CAS; SVC02 - SVC03 =
line CAS) so :func:`edi835.parse` reports no errors and no balancing warnings.

Determinism: the same claims and options give byte-identical output. The payer's adjudication of a
claim (allowed amounts, patient share, denial, payer ICN) depends only on ``options.seed`` and the
claim, never on the other claims in the file, so a later file generated with the same seed can
reverse exactly what an earlier file paid (``ClaimSpec.scenario = "reversal"``).

Speed: strings are built into one list and joined once, money is integer cents; 200,000 claims take
a few seconds.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import itertools
import random
import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = [
    "DENIAL_REASONS",
    "SCENARIOS",
    "ClaimSpec",
    "GeneratedRemittance",
    "RemittanceOptions",
    "ServiceLineSpec",
    "generate_remittance",
    "synthetic_claim_specs",
]

TRUTH_FORMAT = "mentalspace-era-truth/1"

# Scenarios a caller may force on a claim (ClaimSpec.scenario); None lets the options' rates decide.
# "secondary" is the next payer's remittance of a claim the primary paid (CLP02 = 2): it pays the
# patient responsibility the primary left; give the spec the secondary payer's code.
SCENARIOS = ("paid", "denied", "zero_pay", "reversal", "correction", "split", "secondary")

# Denial CARC -> the RARCs a payer sends with it (one is picked). CO-97 on a single line of a
# multi-line claim is the usual "add-on bundled into the E/M" partial denial.
DENIAL_REASONS: dict[str, tuple[str, ...]] = {
    "16": ("M51", "N290", "MA130"),
    "29": ("N130", ""),
    "97": ("M15", "N130"),
    "197": ("N54", "M62"),
}
_DENIAL_WEIGHTS = (("16", 40), ("29", 15), ("97", 25), ("197", 20))

_MANGLES = ("dropped_prefix", "transposed", "payer_icn", "leading_zeros", "case_space")
_NAME_VARIANTS = ("case", "initial", "swapped", "hyphenated", "typo")
_FILING = {"SYN05": "MC", "SYN04": "OF"}  # Medicaid, other federal program; everyone else a PPO ("12")

# Synthetic names for standalone specs (no real person's data).
_FIRST_NAMES = (
    "Avery Blake Casey Dakota Emerson Finley Gray Harper Indigo Jordan Kendall Logan Morgan Noel Oakley "
    "Parker Quinn Reese Sage Tatum Umber Vale Wren Xen Yael Zion Arden Briar Cove Dell Ember Fable Gale "
    "Hollis Ivy Jules Kit Lark Marlo Nova Onyx Pax Rowan Sky Teal Vesper Winter Zephyr Alder Bay Cedar "
    "Dune Elm Fern Glen Heath Iris Juniper"
)
_LAST_NAMES = (
    "Ashdown Brightwater Calloway Dunmore Eastbrook Fairhaven Glenwood Hartwell Ironside Juniper Kestrel "
    "Larkspur Marlowe Northcott Oakhurst Pemberton Quillfeather Ravensworth Stonebridge Thistlewood "
    "Underhill Valemont Whitlock Yarrow Zellwood Amberly Birchwood Copperfield Driftwood Elderberry "
    "Ashcombe Bramble Cresswell Dovecote Emberton Foxglove Greystone Hollowell Ivybridge Jessamine "
    "Kingsley Lockwood Meadowbrook Nettlefield Oldcastle Primrose Quarrington Rosewood Silverton Tamsworth "
    "Upfield Vinecombe Westbrook Yewdale Zennor Applegarth Blackthorn Coldharbour Dewberry Eversley"
)
_FIRST = tuple(_FIRST_NAMES.split())
_LAST = tuple(_LAST_NAMES.split())
_PAYERS = (
    ("SYN01", "PEACHSTATE HEALTH PLAN"),
    ("SYN02", "BLUE RIDGE MUTUAL"),
    ("SYN03", "MAGNOLIA CARE"),
    ("SYN04", "FEDERAL EMPLOYEE SYNTHETIC PLAN"),
    ("SYN05", "SYNTHETIC MEDICAID OF GEORGIA"),
    ("SYN06", "COASTAL BEHAVIORAL HEALTH"),
)
# CPT code -> fee in cents (our own fee schedule; CPT descriptors are licensed, so no labels here).
_FEES = {
    "90791": 22000, "90792": 26000, "90834": 13000, "90837": 17500, "90847": 15000,
    "90853": 6000, "99214": 16500, "90833": 8500, "90839": 25000,
}  # fmt: skip
_VISITS = (  # (weight, CPT codes on the claim)
    (52, ("90837",)), (18, ("90834",)), (6, ("90791",)), (6, ("90847",)), (3, ("90853",)),
    (6, ("99214",)), (6, ("99214", "90833")), (1, ("90792",)), (2, ("90839",)),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ServiceLineSpec:
    """One billed service line: what our 837 said (the payer may echo it imperfectly)."""

    service_date: dt.date
    cpt_code: str
    charge_amount: Decimal
    modifiers: tuple[str, ...] = ()
    units: int = 1
    charge_id: int | None = None


@dataclass(frozen=True, slots=True)
class ClaimSpec:
    """One of our claims as submitted: the truth the remittance is generated from.

    ``claim_id`` / ``client_id`` / ``ServiceLineSpec.charge_id`` are our ids, carried only into the
    ground truth. ``scenario`` forces one of :data:`SCENARIOS` for this claim.
    """

    claim_control_number: str
    payer_code: str
    payer_name: str
    patient_last_name: str
    patient_first_name: str
    service_lines: tuple[ServiceLineSpec, ...]
    member_id: str | None = None
    claim_id: int | None = None
    client_id: int | None = None
    scenario: str | None = None

    @property
    def charge_cents(self) -> int:
        return sum(_cents(line.charge_amount) for line in self.service_lines)


@dataclass(frozen=True, slots=True)
class RemittanceOptions:
    """How the payer behaves. Rates are fractions of claims unless said otherwise."""

    seed: int = 1
    payment_date: dt.date = dt.date(2026, 11, 27)
    interchange_control_number: int | None = None  # default: derived from the seed
    sender_id: str = "SYNCLEARING"
    receiver_id: str = "MENTALSPACE"
    payee_name: str = "SYNTHETIC COUNSELING GROUP"
    payee_npi: str = "1245319599"
    payee_tax_id: str = "581234567"
    max_claims_per_check: int = 5_000
    denial_rate: float = 0.05
    partial_denial_rate: float = 0.25  # of multi-line paid claims: CO-97 on the add-on line
    zero_pay_rate: float = 0.03
    reversal_rate: float = 0.01
    correction_rate: float = 0.01
    split_rate: float = 0.25  # of multi-line claims
    forwarded_rate: float = 0.03  # CLP02 = 19 instead of 1
    dropped_modifier_rate: float = 0.3  # of claims whose lines carry modifiers
    mangled_ccn_rate: float = 0.08
    name_variant_rate: float = 0.12
    missing_member_id_rate: float = 0.04
    date_shift_rate: float = 0.015
    claim_level_denial_rate: float = 0.2  # of denials: CAS at claim level (lines still listed)
    interest_rate: float = 0.3  # of checks: PLB L6
    recovery_rate: float = 0.3  # of checks: PLB WO with the ICN it recovers
    newline: bool = True  # a newline after each segment terminator (what clearinghouses send)


@dataclass(frozen=True)
class GeneratedRemittance:
    """The 835 text and its ground truth (plain JSON-ready dict, see :func:`generate_remittance`)."""

    text: str
    ground_truth: dict = field(repr=False)

    @property
    def claim_count(self) -> int:
        """Number of CLP segments."""
        return len(self.ground_truth["claims"])

    def to_bytes(self) -> bytes:
        return self.text.encode("ascii")


# ---- small helpers ---------------------------------------------------------------------------

_M_CACHE: dict[int, str] = {}
_D_CACHE: dict[dt.date, str] = {}


_CENTS_CACHE: dict[Decimal, int] = {}


def _cents(amount: Decimal | int | float | str) -> int:
    cents = _CENTS_CACHE.get(amount) if isinstance(amount, Decimal) else None
    if cents is None:
        cents = int((Decimal(str(amount)) * 100).to_integral_value())
        if isinstance(amount, Decimal) and len(_CENTS_CACHE) < 10_000:
            _CENTS_CACHE[amount] = cents
    return cents


def _m(cents: int) -> str:
    """X12 decimal: whole dollars without decimals, else two decimals (cached: amounts repeat)."""
    text = _M_CACHE.get(cents)
    if text is None:
        if cents % 100 == 0:
            text = str(cents // 100)
        else:
            c = -cents if cents < 0 else cents
            text = f"{'-' if cents < 0 else ''}{c // 100}.{c % 100:02d}"
        if len(_M_CACHE) < 200_000:
            _M_CACHE[cents] = text
    return text


def _m2(cents: int) -> str:
    """Fixed two decimals, for the ground truth (what Decimal(str) reads back exactly)."""
    c = -cents if cents < 0 else cents
    return f"{'-' if cents < 0 else ''}{c // 100}.{c % 100:02d}"


def _d(day: dt.date) -> str:
    text = _D_CACHE.get(day)
    if text is None:
        text = _D_CACHE[day] = f"{day.year:04d}{day.month:02d}{day.day:02d}"
    return text


def _npi(base9: str) -> str:
    """A 10-digit NPI with a valid check digit (Luhn over the 80840 prefix)."""
    digits = [int(c) for c in "80840" + base9]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return base9 + str((10 - total % 10) % 10)


class _ClaimRandom:
    """Draws for one claim from BLAKE2b(seed, claim control number): the payer's adjudication of a
    claim is independent of which other claims share the file, and cheap (one hash per claim)."""

    __slots__ = ("key", "words", "i", "round")

    def __init__(self, seed: int, key: str) -> None:
        self.key = f"{seed}:{key}".encode()
        self.round = 0
        self.words = struct.unpack("<16I", hashlib.blake2b(self.key, digest_size=64).digest())
        self.i = 0

    def _next(self) -> int:
        if self.i == 16:
            self.round += 1
            digest = hashlib.blake2b(self.key + b"#%d" % self.round, digest_size=64).digest()
            self.words = struct.unpack("<16I", digest)
            self.i = 0
        word = self.words[self.i]
        self.i += 1
        return word

    def random(self) -> float:
        return self._next() * 2.3283064365386963e-10

    def randint(self, low: int, high: int) -> int:
        return low + self._next() % (high - low + 1)

    def choice(self, seq: Sequence):
        return seq[self._next() % len(seq)]


# ---- adjudication ----------------------------------------------------------------------------

# A line is a list: [spec, charge, paid, allowed, cas [(group, CARC, cents)], rarcs [str]]
_SPEC, _CHARGE, _PAID, _ALLOWED, _CAS, _RARCS = range(6)


class _Outcome:
    """What the payer decided for (part of) one claim."""

    __slots__ = ("status", "lines", "icn", "denial_carc", "claim_cas", "claim_rarcs")

    def __init__(self, status: str, lines: list[list], icn: str, denial_carc: str | None = None,
                 claim_cas: list | None = None, claim_rarcs: list | None = None) -> None:  # fmt: skip
        self.status = status
        self.lines = lines
        self.icn = icn
        self.denial_carc = denial_carc
        self.claim_cas = claim_cas or []
        self.claim_rarcs = claim_rarcs or []

    @property
    def paid(self) -> int:
        return sum(line[_PAID] for line in self.lines)


_ICN_PREFIX: dict[str, str] = {}


def _icn(spec: ClaimSpec, rnd: _ClaimRandom, suffix: str = "") -> str:
    # Payer internal control numbers look nothing like ours: a payer prefix, julian date, a sequence.
    prefix = _ICN_PREFIX.get(spec.payer_code)
    if prefix is None:
        prefix = _ICN_PREFIX[spec.payer_code] = (
            "".join(c for c in spec.payer_code if c.isalnum())[-2:] or "PY"
        )
    return f"E{prefix}{rnd.randint(26001, 26365)}{rnd.randint(10**7, 10**8 - 1)}{suffix}"


def _weighted(rnd: _ClaimRandom, pairs: Sequence[tuple[str, int]]) -> str:
    x = rnd.randint(1, sum(w for _, w in pairs))
    for value, weight in pairs:
        x -= weight
        if x <= 0:
            return value
    return pairs[-1][0]


def _adjudicate(spec: ClaimSpec, opts: RemittanceOptions, force: str | None) -> _Outcome:
    """What the payer decided for this claim (deterministic in seed + claim).

    ``force``: "paid" (neither denied nor zero-pay), "denied", "zero_pay", or None (by the rates).
    """
    rnd = _ClaimRandom(opts.seed, spec.claim_control_number)
    icn = _icn(spec, rnd)
    u = rnd.random()
    status = "19" if rnd.random() < opts.forwarded_rate else "1"
    lines = [[s, _cents(s.charge_amount), 0, 0, [], []] for s in spec.service_lines]
    denied = force == "denied" or (force is None and u < opts.denial_rate)
    zero_pay = force == "zero_pay" or (
        force is None and not denied and u < opts.denial_rate + opts.zero_pay_rate
    )
    if denied:
        carc = _weighted(rnd, _DENIAL_WEIGHTS)
        rarc = rnd.choice(DENIAL_REASONS[carc])
        if rnd.random() < opts.claim_level_denial_rate:
            total = sum(line[_CHARGE] for line in lines)
            return _Outcome("4", lines, icn, carc, [("CO", carc, total)], [rarc] if rarc else [])
        for line in lines:
            line[_CAS].append(("CO", carc, line[_CHARGE]))
            if rarc:
                line[_RARCS].append(rarc)
        return _Outcome("4", lines, icn, carc)
    share = rnd.randint(55, 85)
    plan = rnd.choice(("copay", "copay", "coinsurance", "coinsurance", "none", "none", "deductible"))
    copay = rnd.choice((2000, 3000, 4000))
    coins = rnd.choice((10, 20))
    deductible = rnd.randint(10, 60) * 100
    bundle = len(lines) > 1 and rnd.random() < opts.partial_denial_rate
    last = len(lines) - 1
    for i, line in enumerate(lines):
        charge = line[_CHARGE]
        cas = line[_CAS]
        if bundle and i == last:
            # The add-on is bundled into the primary service: a line-level denial in a paid claim.
            cas.append(("CO", "97", charge))
            line[_RARCS].append("M15")
            continue
        allowed = charge * share // 100
        line[_ALLOWED] = allowed
        if charge > allowed:
            cas.append(("CO", "45", charge - allowed))
        patient = 0
        code = ""
        if zero_pay:
            patient, code = allowed, "1"
        elif plan == "copay" and i == 0:
            patient, code = min(copay, allowed), "3"
        elif plan == "coinsurance":
            patient, code = allowed * coins // 100, "2"
        elif plan == "deductible" and i == 0:
            patient, code = min(allowed, deductible), "1"
        if patient > 0:
            cas.append(("PR", code, patient))
        line[_PAID] = allowed - patient
    return _Outcome(status, lines, icn)


def _negated(outcome: _Outcome) -> _Outcome:
    lines = [
        [line[_SPEC], -line[_CHARGE], -line[_PAID], -line[_ALLOWED], [(g, c, -a) for g, c, a in line[_CAS]], list(line[_RARCS])]
        for line in outcome.lines
    ]  # fmt: skip
    claim_cas = [(g, c, -a) for g, c, a in outcome.claim_cas]
    return _Outcome("22", lines, outcome.icn, outcome.denial_carc, claim_cas, list(outcome.claim_rarcs))


def _corrected(spec: ClaimSpec, opts: RemittanceOptions, original: _Outcome) -> _Outcome:
    """The payer re-adjudicates after a reversal: a fee-schedule fix raises the allowed amounts."""
    rnd = _ClaimRandom(opts.seed + 7919, spec.claim_control_number)
    bump = rnd.randint(3, 9)
    lines = []
    for line in original.lines:
        charge, allowed = line[_CHARGE], line[_ALLOWED]
        if allowed == 0:
            lines.append([line[_SPEC], charge, line[_PAID], 0, list(line[_CAS]), list(line[_RARCS])])
            continue
        allowed = min(charge, allowed + allowed * bump // 100)
        patient = [(g, c, a) for g, c, a in line[_CAS] if g == "PR"]
        pr_total = min(sum(a for _, _, a in patient), allowed)
        cas = [("CO", "45", charge - allowed)] if charge > allowed else []
        if pr_total:
            cas.append(("PR", patient[0][1], pr_total))
        lines.append([line[_SPEC], charge, allowed - pr_total, allowed, cas, []])
    return _Outcome("1", lines, _icn(spec, rnd, "C"))


def _as_secondary(primary: _Outcome) -> _Outcome:
    """The secondary payer's adjudication after ``primary``: it pays what the primary left to the
    patient, and reports the primary's part as OA-23 (impact of prior payer adjudication)."""
    lines = []
    for line in primary.lines:
        charge = line[_CHARGE]
        left = sum(a for g, _, a in line[_CAS] if g == "PR")
        cas = [("OA", "23", charge - left)] if charge > left else []
        lines.append([line[_SPEC], charge, left, 0, cas, []])
    return _Outcome("2", lines, primary.icn[:-1] + "2")


# ---- payer noise -----------------------------------------------------------------------------


def _mangle_ccn(ccn: str, kind: str, icn: str, rng: random.Random) -> str:
    prefix = ccn.rstrip("0123456789")
    digits = ccn[len(prefix) :]
    if kind == "dropped_prefix" and prefix and digits:
        return digits
    if kind == "leading_zeros" and digits.startswith("0") and digits.strip("0"):
        return prefix + digits.lstrip("0")
    if kind == "transposed" and len(digits) >= 2:
        # Swap two adjacent digits that differ (near the end, where keying slips happen).
        options = [i for i in range(max(0, len(digits) - 5), len(digits) - 1) if digits[i] != digits[i + 1]]
        if options:
            i = rng.choice(options)
            return prefix + digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
    if kind == "case_space":
        return " " + ccn.lower() + " "
    return icn  # "payer_icn", or a fallback when the number has no room for the chosen slip


def _name_variant(last: str, first: str, kind: str, rng: random.Random) -> tuple[str, str]:
    if kind == "case":
        return (last.title() if rng.random() < 0.5 else last.lower()), first.lower()
    if kind == "initial":
        return last, first[:1]
    if kind == "swapped":
        return first, last
    if kind == "hyphenated":
        other = rng.choice(_LAST).upper()
        return (f"{last}-{other}" if rng.random() < 0.5 else f"{other}-{last}"), first
    if kind == "typo" and len(last) > 3:
        i = rng.randint(1, len(last) - 3)
        return last[:i] + last[i + 1] + last[i] + last[i + 2 :], first
    return last, first


# ---- rendering -------------------------------------------------------------------------------


def _cas_segments(cas: Iterable[tuple[str, str, int]]) -> list[str]:
    """One CAS per group code, up to six reason/amount pairs each (as the TR3 asks)."""
    by_group: dict[str, list[str]] = {}
    for group, carc, amount in cas:
        if amount:
            pairs = by_group.get(group)
            if pairs is None:
                pairs = by_group[group] = []
            pairs.append(f"{carc}*{_m(amount)}")
    out = []
    for group, pairs in by_group.items():
        if len(pairs) <= 6:
            out.append(f"CAS*{group}*" + "**".join(pairs))
        else:
            out.extend(f"CAS*{group}*" + "**".join(pairs[k : k + 6]) for k in range(0, len(pairs), 6))
    return out


class _Ctx:
    """Per-file state shared by the claim renderers."""

    __slots__ = ("opts", "rng", "segments", "truth", "providers", "filing", "st02", "recoverable")

    def __init__(self, opts: RemittanceOptions) -> None:
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.segments: list[str] = []
        self.truth: list[dict] = []
        # A practice has a handful of rendering clinicians, not one per claim.
        self.providers = [
            f"NM1*82*1*{self.rng.choice(_LAST).upper()}*{self.rng.choice(_FIRST).upper()}****XX*"
            f"{_npi(str(self.rng.randint(10**8, 2 * 10**8 - 1)))}"
            for _ in range(24)
        ]
        self.filing = "12"
        self.st02 = ""
        self.recoverable: list[str] = []


def _emit(ctx: _Ctx, spec: ClaimSpec, outcome: _Outcome, lines: list[list], clp01: str, names: tuple[str, str, str],
          drop_mods: bool, shift: int, provider: str, received: int, tags: list[str]) -> int:  # fmt: skip
    """Write one CLP loop and its ground truth; returns the cents it pays."""
    seg = ctx.segments
    add = seg.append
    qc, insured, group = names
    whole = len(lines) == len(outcome.lines)
    claim_cas = outcome.claim_cas if whole else []
    charge = paid = allowed = patient = 0
    for line in lines:
        charge += line[_CHARGE]
        paid += line[_PAID]
        allowed += line[_ALLOWED]
        for g, _, a in line[_CAS]:
            if g == "PR":
                patient += a
    for g, _, a in claim_cas:
        if g == "PR":
            patient += a
    add(f"CLP*{clp01}*{outcome.status}*{_m(charge)}*{_m(paid)}*{_m(patient)}*{ctx.filing}*{outcome.icn}*11*1")
    pos = len(seg)
    if claim_cas:
        seg.extend(_cas_segments(claim_cas))
    add(qc)
    if insured:
        add(insured)
    add(provider)
    if claim_cas and outcome.claim_rarcs:
        add("MOA***" + "*".join(outcome.claim_rarcs))
    elif ctx.filing != "12":
        add("MOA***MA01")  # government plans print the appeal-rights remark on every claim
    add(group)
    if shift:
        dates = [line[_SPEC].service_date + dt.timedelta(days=shift) for line in lines]
    else:
        dates = [line[_SPEC].service_date for line in lines]
    first_day, last_day = min(dates), max(dates)
    add(f"DTM*232*{_d(first_day)}")
    add(f"DTM*233*{_d(last_day)}")
    add(f"DTM*050*{_d(last_day + dt.timedelta(days=received))}")
    if allowed:
        add(f"AMT*AU*{_m(allowed)}")
    if not claim_cas:  # a claim-level adjudication comes without service lines
        for line, day in zip(lines, dates, strict=True):
            s = line[_SPEC]
            if drop_mods or not s.modifiers:
                add(f"SVC*HC:{s.cpt_code}*{_m(line[_CHARGE])}*{_m(line[_PAID])}**{s.units}")
            else:
                add(
                    f"SVC*HC:{s.cpt_code}:{':'.join(s.modifiers)}*{_m(line[_CHARGE])}*{_m(line[_PAID])}**{s.units}"
                )
            add(f"DTM*472*{_d(day)}")
            cas = line[_CAS]
            if len(cas) == 1:
                g, c, a = cas[0]
                add(f"CAS*{g}*{c}*{_m(a)}")
            elif cas:
                seg.extend(_cas_segments(cas))
            if line[_ALLOWED]:
                add(f"AMT*B6*{_m(line[_ALLOWED])}")
            for rarc in line[_RARCS]:
                add(f"LQ*HE*{rarc}")
    ctx.truth.append(
        {
            "segment_position": pos,
            "transaction_set_control_number": ctx.st02,
            "clp01": clp01,
            "status_code": outcome.status,
            "claim_id": spec.claim_id,
            "client_id": spec.client_id,
            "claim_control_number": spec.claim_control_number,
            "charge_ids": [line[_SPEC].charge_id for line in lines],
            "charge_amount": _m2(charge),
            "paid_amount": _m2(paid),
            "patient_responsibility_amount": _m2(patient),
            "scenarios": tags,
        }
    )
    return paid


def _render_one(ctx: _Ctx, spec: ClaimSpec) -> int:
    """Write the CLP loop(s) of one of our claims; returns the cents they pay."""
    opts, rng = ctx.opts, ctx.rng
    force = spec.scenario
    if force is not None and force not in SCENARIOS:
        raise ValueError(f"claim {spec.claim_control_number}: unknown scenario {force!r}")
    n_lines = len(spec.service_lines)
    if n_lines == 0:
        raise ValueError(f"claim {spec.claim_control_number}: no service lines")
    r = rng.random()
    if force in ("reversal", "correction", "secondary"):
        kind = force
    elif force is None and r < opts.reversal_rate:
        kind = "reversal"
    elif force is None and r < opts.reversal_rate + opts.correction_rate:
        kind = "correction"
    else:
        kind = "normal"
    if kind == "normal":
        base = _adjudicate(spec, opts, force if force in ("paid", "denied", "zero_pay") else None)
    else:
        base = _adjudicate(spec, opts, None)
        if base.status == "4":  # only a payment can be reversed: this claim was paid after all
            base = _adjudicate(spec, opts, "paid")

    tags: list[str] = []
    clp01 = spec.claim_control_number
    if rng.random() < opts.mangled_ccn_rate:
        how = rng.choice(_MANGLES)
        clp01 = _mangle_ccn(clp01, how, base.icn, rng)
        tags.append(f"mangled_ccn:{'payer_icn' if clp01 == base.icn else how}")
    last, first = spec.patient_last_name.upper(), spec.patient_first_name.upper()
    if rng.random() < opts.name_variant_rate:
        how = rng.choice(_NAME_VARIANTS)
        last, first = _name_variant(last, first, how, rng)
        tags.append(f"name:{how}")
    member = spec.member_id
    if member and rng.random() < opts.missing_member_id_rate:
        member = None
        tags.append("missing_member_id")
    qc = f"NM1*QC*1*{last}*{first}****MI*{member}" if member else f"NM1*QC*1*{last}*{first}"
    # A dependant's claims name the subscriber too (NM1*IL); the member id is the subscriber's.
    insured = ""
    if member and rng.random() < 0.2:
        insured = (
            f"NM1*IL*1*{last}*{_FIRST[zlib.crc32(member.encode()) % len(_FIRST)].upper()}****MI*{member}"
        )
    group = f"REF*1L*G{zlib.crc32((spec.payer_code + (spec.member_id or '')).encode()) % 100000:05d}"
    names = (qc, insured, group)
    received = 3 + int(rng.random() * 12)
    drop_mods = rng.random() < opts.dropped_modifier_rate and any(s.modifiers for s in spec.service_lines)
    if drop_mods:
        tags.append("dropped_modifiers")
    shift = 0
    if rng.random() < opts.date_shift_rate:
        shift = -1 if rng.random() < 0.5 else 1
        tags.append("date_shift")
    provider = ctx.providers[int(rng.random() * len(ctx.providers))]

    paid = 0
    if kind == "reversal":
        reversal = _negated(base)
        paid += _emit(
            ctx,
            spec,
            reversal,
            reversal.lines,
            clp01,
            names,
            drop_mods,
            shift,
            provider,
            received,
            [*tags, "reversal"],
        )
    elif kind == "secondary":
        secondary = _as_secondary(_adjudicate(spec, opts, "paid"))
        paid += _emit(ctx, spec, secondary, secondary.lines, clp01, names, drop_mods, shift, provider, received,
                      [*tags, "secondary"])  # fmt: skip
        return paid
    elif kind == "correction":
        reversal = _negated(base)
        paid += _emit(ctx, spec, reversal, reversal.lines, clp01, names, drop_mods, shift, provider, received,
                      [*tags, "correction:reversal"])  # fmt: skip
        corrected = _corrected(spec, opts, base)
        paid += _emit(ctx, spec, corrected, corrected.lines, clp01, names, drop_mods, shift, provider, received,
                      [*tags, "correction:new"])  # fmt: skip
    elif (
        n_lines > 1
        and not base.claim_cas
        and (force == "split" or (force is None and rng.random() < opts.split_rate))
    ):
        cut = rng.randint(1, n_lines - 1)
        one = _Outcome(base.status, base.lines[:cut], base.icn)
        two = _Outcome(base.status, base.lines[cut:], base.icn[:-1] + "S")
        paid += _emit(
            ctx, spec, one, one.lines, clp01, names, drop_mods, shift, provider, received, [*tags, "split:1"]
        )
        paid += _emit(
            ctx, spec, two, two.lines, clp01, names, drop_mods, shift, provider, received, [*tags, "split:2"]
        )
    else:
        if base.denial_carc:
            tags.append(f"denied:CO-{base.denial_carc}")
        paid += _emit(ctx, spec, base, base.lines, clp01, names, drop_mods, shift, provider, received, tags)
    if base.paid > 0:
        ctx.recoverable.append(base.icn)
    return paid


def _render_transaction(ctx: _Ctx, claims: Sequence[ClaimSpec], number: int) -> dict:
    """One ST..SE: the header, every claim, the PLB, and the BPR written last (it needs the total)."""
    opts, rng, seg = ctx.opts, ctx.rng, ctx.segments
    st02 = ctx.st02 = f"{number:04d}"
    payer_code, payer_name = claims[0].payer_code, claims[0].payer_name
    payer_hash = zlib.crc32(payer_code.encode())
    payer_tin = f"{payer_hash % 10**9:09d}"
    trace = f"{opts.seed % 10**6:06d}{number:04d}{payer_hash % 10**5:05d}"
    seg.append(f"ST*835*{st02}*005010X221A1")
    st_pos = len(seg)
    seg.append("")  # BPR placeholder
    bpr_index = len(seg) - 1
    seg.extend(
        (
            f"TRN*1*{trace}*1{payer_tin}",
            f"REF*EV*{opts.receiver_id}",
            f"DTM*405*{_d(opts.payment_date - dt.timedelta(days=2))}",
            f"N1*PR*{payer_name}*XV*{payer_code}",
            "N3*100 SYNTHETIC PLAZA",
            "N4*ATLANTA*GA*303030001",
            f"REF*2U*{payer_code}",
            "PER*BL*PROVIDER SERVICES*TE*8005550100",
            f"N1*PE*{opts.payee_name}*XX*{opts.payee_npi}",
            "N3*200 SYNTHETIC WAY",
            "N4*ATLANTA*GA*303080002",
            f"REF*TJ*{opts.payee_tax_id}",
            "LX*1",
        )
    )
    ctx.filing = _FILING.get(payer_code, "12")
    ctx.recoverable = []
    first_claim = len(ctx.truth)
    total_paid = 0
    for spec in claims:
        total_paid += _render_one(ctx, spec)

    plb: list[tuple[str, str | None, int]] = []
    if rng.random() < opts.interest_rate and total_paid > 0:
        plb.append(("L6", None, -rng.randint(25, 2500)))  # interest paid to us: a negative PLB
    if rng.random() < opts.recovery_rate and ctx.recoverable and total_paid > 10_000:
        plb.append(("WO", rng.choice(ctx.recoverable), min(rng.randint(1000, 9000), total_paid // 4)))
    if total_paid - sum(a for _, _, a in plb) < 0:
        # Reversals took back more than this check pays: the payer forwards the negative balance.
        plb.append(("FB", f"FB{trace}", total_paid - sum(a for _, _, a in plb)))
    if plb:
        parts = [f"{code}:{ref}*{_m(amount)}" if ref else f"{code}*{_m(amount)}" for code, ref, amount in plb]
        year_end = dt.date(opts.payment_date.year, 12, 31)
        for k in range(0, len(parts), 6):
            seg.append(f"PLB*{opts.payee_npi}*{_d(year_end)}*" + "*".join(parts[k : k + 6]))
    payment = total_paid - sum(a for _, _, a in plb)
    if payment > 0:
        seg[bpr_index] = (
            f"BPR*I*{_m(payment)}*C*ACH*CCP*01*061000104*DA*{payer_tin}1*1{payer_tin}**01*061000227*DA*"
            f"{opts.payee_tax_id}0*{_d(opts.payment_date)}"
        )
    else:
        seg[bpr_index] = f"BPR*H*0*C*NON************{_d(opts.payment_date)}"
    seg.append(f"SE*{len(seg) + 1 - st_pos + 1}*{st02}")
    return {
        "transaction_set_control_number": st02,
        "segment_position": st_pos,
        "trace_number": trace,
        "payer_code": payer_code,
        "payment_amount": _m2(payment),
        "claim_count": len(ctx.truth) - first_claim,
        "provider_adjustments": [
            {"reason_code": code, "reference_id": ref, "amount": _m2(amount)} for code, ref, amount in plb
        ],
    }


@contextmanager
def _no_gc() -> Iterator[None]:
    # Hundreds of thousands of small containers make the cyclic GC rescan the heap over and over
    # (quadratic time); nothing here forms cycles, so it is paused while building.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def generate_remittance(
    claims: Sequence[ClaimSpec], options: RemittanceOptions | None = None
) -> GeneratedRemittance:
    """Render one 835 interchange for ``claims`` and return it with its ground truth.

    Ground truth (``GeneratedRemittance.ground_truth``)::

        {"format": "mentalspace-era-truth/1", "seed": 7, "interchange_control_number": "000055433",
         "source_claim_count": 1000,
         "transactions": [{"transaction_set_control_number": "0001", "segment_position": 3,
                           "trace_number": ..., "payer_code": "SYN01", "payment_amount": "123.45",
                           "claim_count": 170, "provider_adjustments": [
                               {"reason_code": "L6", "reference_id": null, "amount": "-3.27"}]}],
         "claims": [{"segment_position": 17, "transaction_set_control_number": "0001",
                     "clp01": "MS00000012", "status_code": "1", "claim_id": 12, "client_id": 4,
                     "claim_control_number": "MS00000012", "charge_ids": [31, 32],
                     "charge_amount": "260.00", "paid_amount": "180.50",
                     "patient_responsibility_amount": "20.00",
                     "scenarios": ["mangled_ccn:transposed", "name:initial", "split:1"]}]}

    ``segment_position`` is the CLP's 1-based ordinal in the file, i.e. the parser's ``claim_id``.
    ``charge_ids`` follow the CLP's SVC lines in order (a claim-level denial has no SVC lines and
    lists every charge of the claim).
    """
    opts = options or RemittanceOptions()
    with _no_gc():
        ctx = _Ctx(opts)
        icn_number = opts.interchange_control_number or (opts.seed * 7919) % 999_999_999 + 1
        day = opts.payment_date
        sender, receiver = opts.sender_id[:15], opts.receiver_id[:15]
        seg = ctx.segments
        seg.append(
            f"ISA*00*{'':10}*00*{'':10}*ZZ*{sender:<15}*ZZ*{receiver:<15}*{day:%y%m%d}*0800*^*00501*"
            f"{icn_number:09d}*0*P*:"
        )
        group_number = icn_number % 1_000_000 + 1
        seg.append(f"GS*HP*{sender}*{receiver}*{_d(day)}*0800*{group_number}*X*005010X221A1")
        by_payer: dict[str, list[ClaimSpec]] = {}
        for spec in claims:
            by_payer.setdefault(spec.payer_code, []).append(spec)
        transactions = []
        per_check = max(1, opts.max_claims_per_check)
        for payer_claims in by_payer.values():
            for start in range(0, len(payer_claims), per_check):
                transactions.append(
                    _render_transaction(ctx, payer_claims[start : start + per_check], len(transactions) + 1)
                )
        seg.append(f"GE*{len(transactions)}*{group_number}")
        seg.append(f"IEA*1*{icn_number:09d}")
        terminator = "~\n" if opts.newline else "~"
        text = terminator.join(seg) + terminator
        truth = {
            "format": TRUTH_FORMAT,
            "seed": opts.seed,
            "interchange_control_number": f"{icn_number:09d}",
            "source_claim_count": len(claims),
            "transactions": transactions,
            "claims": ctx.truth,
        }
    return GeneratedRemittance(text, truth)


# ---- standalone claim specs ------------------------------------------------------------------


def synthetic_claim_specs(
    n: int,
    seed: int = 1,
    *,
    end_date: dt.date = dt.date(2026, 11, 20),
    first_claim_id: int = 1,
    first_charge_id: int = 1,
    claims_per_client: int = 6,
) -> list[ClaimSpec]:
    """``n`` claims of an invented practice (no store needed).

    Ids count up from the given starts; claim control numbers are ``MS%08d`` of the claim id;
    clients are numbered 1..n/claims_per_client, keep one payer and member id, and come weekly on
    their own weekday (so no client has two claims on one day, as in a real caseload); about a
    third of visits are telehealth (modifier 95).
    """
    rng = random.Random(seed)
    n_clients = max(1, n // max(1, claims_per_client))
    clients = []
    for cid in range(1, n_clients + 1):
        payer_code, payer_name = rng.choice(_PAYERS)
        clients.append(
            (cid, rng.choice(_LAST), rng.choice(_FIRST), f"SYN{rng.randint(10**8, 10**9 - 1)}", payer_code,
             payer_name, rng.random() < 0.35, rng.randint(0, 6))
        )  # fmt: skip
    cum_weights = list(itertools.accumulate(w for w, _ in _VISITS))
    visit_codes = [codes for _, codes in _VISITS]
    fees = {cpt: Decimal(cents).scaleb(-2) for cpt, cents in _FEES.items()}
    tele = ("95",)
    specs: list[ClaimSpec] = []
    charge_id = first_charge_id
    visits = [0] * n_clients
    with _no_gc():
        for k in range(n):
            claim_id = first_claim_id + k
            ci = rng.randrange(n_clients)
            cid, last, first_name, member, payer_code, payer_name, is_tele_client, weekday = clients[ci]
            # Counting back from the end: a busy client's history simply reaches further back.
            day = end_date - dt.timedelta(days=visits[ci] * 7 + weekday)
            visits[ci] += 1
            cpts = rng.choices(visit_codes, cum_weights=cum_weights)[0]
            mods = tele if is_tele_client and rng.random() < 0.8 else ()
            lines = []
            for cpt in cpts:
                lines.append(ServiceLineSpec(day, cpt, fees[cpt], mods, 1, charge_id))
                charge_id += 1
            specs.append(
                ClaimSpec(f"MS{claim_id:08d}", payer_code, payer_name, last, first_name, tuple(lines), member,
                          claim_id, cid)
            )  # fmt: skip
    return specs
