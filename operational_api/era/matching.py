"""Matching ERA claim payments (CLPs) to our claims and charges: the PRD's five levels.

1. **Claim control number** (CCN_EXACT): CLP01 trimmed and upper-cased equals our claim's
   control number, *and* the patient agrees (member id, or a name at least 0.85 similar, and no
   member id that belongs to somebody else) *and* the service dates agree (with the amounts or
   the CPT codes), or the amounts agree within ``l3_max_days``. A payer that transposes two digits
   can land on a real claim: somebody else's visit that day, or the patient's own visit of another
   week; without the corroboration either would be a wrong post.
2. **Client + service date + amount** (CLIENT_DATE_AMOUNT): the patient is identified (member id
   from NM1*QC/IL against insurance_policies; or, when the 835 has no member id the store knows,
   the exact or swapped name of exactly one client) and exactly one of that client's claims has a
   charge on every SVC line's date with the line's charge amount. A member-id match wins over
   namesakes; a name shared by two clients identifies nobody.
3. **Client + CPT + amount** (CLIENT_CPT_AMOUNT): as 2 with the CPT code instead of the date, the
   date allowed to be off by up to ``l3_max_days`` (payers that key the date wrong); exactly one
   claim within that window.
4. **Fuzzy** (FUZZY): candidates from every cheap signal (digits of CLP01 after dropping prefix and
   leading zeros, adjacent-digit transpositions, the member's and same-named clients' claims near
   the date, any claim with the same date and amount) scored on name similarity (rapidfuzz; initials,
   swapped and double surnames), member id, date proximity, amount, CPT, modifiers (a dropped
   modifier is tolerated) and control-number edit distance. Confidence is the score, cut when the
   runner-up is close.
5. **Manual review**: whatever is below the posting threshold keeps its ranked candidates.

Confidences: level 1 is 1.0 (dates and amounts agree) or 0.96; level 2 is 0.98 (member id and
name), 0.97 (member id) or 0.93 (a unique name); level 3 is 0.96 / 0.95 / 0.91 less 0.01 per day
off; level 4 is the score (weights W_* below), times 0.6..1.0 as the runner-up comes closer than
``fuzzy_clear_margin``. Posting's default threshold (0.90) therefore auto-posts levels 1-3 and
clear fuzzy matches, and sends namesakes, near ties and weak evidence to a person.

Everything is polars joins over integer cents; Python only scores names and resolves the rare
claim whose SVC lines compete for one charge. All amounts are compared in absolute value, so a
reversal (CLP02 = 22, negative amounts) matches the claim it reverses.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from sqlalchemy import Connection

from operational_api.bulk import copy_query
from operational_api.era.frames import (
    EraFrames,
    ccn_digits,
    normalise_ccn,
    normalise_member_id,
    normalise_name,
)
from operational_api.models import MatchMethod

DEFAULT_MIN_CONFIDENCE = 0.90
LEVELS = (
    MatchMethod.CCN_EXACT.value,
    MatchMethod.CLIENT_DATE_AMOUNT.value,
    MatchMethod.CLIENT_CPT_AMOUNT.value,
    MatchMethod.FUZZY.value,
)
NO_DAYS = 999  # day distance when a date is missing
MIN_CANDIDATE_SCORE = 0.3  # below this a "candidate" is noise, not help, for the person reviewing

# Weights of the fuzzy score (they sum to 1).
W_IDENTITY, W_DATE, W_AMOUNT, W_CPT, W_CCN = 0.35, 0.20, 0.20, 0.10, 0.15


@dataclass(frozen=True)
class MatchSettings:
    """Tunables of the matcher (the posting threshold itself belongs to posting)."""

    min_confidence: float = DEFAULT_MIN_CONFIDENCE  # below it, candidates are kept for review
    l3_max_days: int = 3
    fuzzy_window_days: int = 7
    fuzzy_clear_margin: float = 0.10  # runner-up this far behind: no ambiguity cut
    review_candidates: int = 5


@dataclass(frozen=True)
class StoreSnapshot:
    """What matching needs of the store (PHI stays in this process; nothing is logged).

    claims    claim_id, ccn_norm, ccn_int, ccn_digits, client_id, payer_code, total_cents, status
    charges   charge_id, claim_id, client_id, service_date, cpt_code, modifiers, charge_cents,
              paid_cents, adjustment_cents, patient_cents, status
    clients   client_id, last_norm, first_norm, name_key
    policies  client_id, payer_code, member_norm
    """

    claims: pl.DataFrame
    charges: pl.DataFrame
    clients: pl.DataFrame
    policies: pl.DataFrame


@dataclass(frozen=True)
class MatchResult:
    """The decision for every CLP of a file.

    claims      era_key, claim_id (null when no candidate), method (null = unmatched),
                confidence, reasons
    lines       service_line_id, era_key, charge_id (null when no charge fits the line)
    candidates  era_key, rank, claim_id, charge_id, score, reasons: ranked candidates for the CLPs
                whose confidence is below ``settings.min_confidence``
    """

    claims: pl.DataFrame
    lines: pl.DataFrame
    candidates: pl.DataFrame

    def level_counts(self) -> dict[str, int]:
        """CLPs per method (None = no candidate at all)."""
        counts = self.claims.group_by("method").len()
        return {row["method"]: row["len"] for row in counts.iter_rows(named=True)}


# ---- the store -------------------------------------------------------------------------------

_CLAIMS_SQL = """
select c.id, c.claim_control_number, c.client_id, p.payer_code,
       cast(round(c.total_charge_amount * 100) as integer), c.status
from claims c left join payers p on p.id = c.payer_id
"""
_CHARGES_SQL = """
select id, claim_id, client_id, service_date, cpt_code, modifiers,
       cast(round(charge_amount * 100) as integer), cast(round(payment_amount * 100) as integer),
       cast(round(adjustment_amount * 100) as integer),
       cast(round(patient_responsibility_amount * 100) as integer), status
from charges where claim_id is not null
"""
_CLIENTS_SQL = "select id, last_name, first_name from clients"
_POLICIES_SQL = """
select ip.client_id, p.payer_code, ip.member_id
from insurance_policies ip left join payers p on p.id = ip.payer_id
"""


def _fetch(conn: Connection, sql: str, columns: list[str]) -> pl.DataFrame:
    """Rows straight from the driver's cursor (no SQLAlchemy row objects: 460,000 rows for a
    200,000-claim store), inside the caller's transaction. PostgreSQL hands them over as COPY
    text (columns come back as strings; ``load_snapshot`` casts them)."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            return copy_query(cursor, sql, columns)
        cursor.execute(sql)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    return pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)


def load_snapshot(conn: Connection) -> StoreSnapshot:
    """Read claims, billed charges, clients and policies in four queries."""
    ints = pl.Int64
    claims = _fetch(conn, _CLAIMS_SQL, ["claim_id", "claim_control_number", "client_id", "payer_code",
                                        "total_cents", "status"])  # fmt: skip
    claims = claims.with_columns(
        pl.col("claim_id", "client_id", "total_cents").cast(ints),
        pl.col("claim_control_number", "payer_code", "status").cast(pl.String),
    ).with_columns(
        ccn_norm=normalise_ccn(pl.col("claim_control_number")),
        ccn_int=ccn_digits(pl.col("claim_control_number")),
        ccn_digits=pl.col("claim_control_number").str.strip_chars().str.extract(r"(\d+)$", 1).fill_null(""),
    )
    charges = _fetch(conn, _CHARGES_SQL, ["charge_id", "claim_id", "client_id", "service_date", "cpt_code",
                                          "modifiers", "charge_cents", "paid_cents", "adjustment_cents",
                                          "patient_cents", "status"])  # fmt: skip
    if charges.schema["service_date"] in (
        pl.String,
        pl.Null,
    ):  # SQLite and PostgreSQL's COPY give dates as text
        charges = charges.with_columns(
            pl.col("service_date").cast(pl.String).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
        )
    charges = charges.with_columns(
        pl.col("charge_id", "claim_id", "client_id", "charge_cents", "paid_cents", "adjustment_cents",
               "patient_cents").cast(ints),
        pl.col("cpt_code", "modifiers", "status").cast(pl.String),
    ).with_columns(
        cpt_code=pl.col("cpt_code").str.strip_chars().str.to_uppercase(),
        modifiers=pl.col("modifiers").fill_null("").str.replace_all(r"[\s:;]+", ",").str.strip_chars(",").str.split(",")
        .list.eval(pl.element().filter(pl.element() != "")).list.sort().list.join(","),
    )  # fmt: skip
    clients = _fetch(conn, _CLIENTS_SQL, ["client_id", "last_name", "first_name"])
    clients = clients.select(
        pl.col("client_id").cast(ints),
        last_norm=normalise_name(pl.col("last_name").cast(pl.String).fill_null("")),
        first_norm=normalise_name(pl.col("first_name").cast(pl.String).fill_null("")),
    ).with_columns(name_key=pl.concat_str("last_norm", pl.lit("|"), "first_norm"))
    policies = _fetch(conn, _POLICIES_SQL, ["client_id", "payer_code", "member_id"])
    policies = (
        policies.select(
            pl.col("client_id").cast(ints),
            pl.col("payer_code").cast(pl.String),
            member_norm=normalise_member_id(pl.col("member_id").cast(pl.String).fill_null("")),
        )
        .filter(pl.col("member_norm") != "")
        .unique()
    )
    return StoreSnapshot(claims=claims, charges=charges, clients=clients, policies=policies)


# ---- matching --------------------------------------------------------------------------------


def match(frames: EraFrames, store: StoreSnapshot, settings: MatchSettings | None = None) -> MatchResult:
    """Match every CLP of ``frames`` against ``store`` (see the module docstring)."""
    s = settings or MatchSettings()
    m = _Matcher(frames, store, s)
    return m.run()


class _Matcher:
    def __init__(self, frames: EraFrames, store: StoreSnapshot, settings: MatchSettings) -> None:
        self.s = settings
        self.store = store
        claims = frames.claims
        self.era = claims.select(
            "era_key",
            "clp01",
            "ccn_norm",
            "payer_code",
            "last_norm",
            "first_norm",
            "member_norm",
            ccn_int=ccn_digits(pl.col("clp01")),
            ccn_digits=pl.col("clp01").str.strip_chars().str.extract(r"(\d+)$", 1).fill_null(""),
            name_key=pl.concat_str(
                pl.col("last_norm").fill_null(""), pl.lit("|"), pl.col("first_norm").fill_null("")
            ),
            swapped_key=pl.concat_str(
                pl.col("first_norm").fill_null(""), pl.lit("|"), pl.col("last_norm").fill_null("")
            ),
            has_member=pl.col("member_norm").fill_null("") != "",
        )
        # One matching unit per SVC line; a CLP without SVC lines is one claim-level unit (kind "C").
        line_units = frames.lines.join(
            claims.select("era_key", "from_date"), on="era_key", how="left"
        ).select(
            "era_key",
            line_key="service_line_id",
            kind=pl.lit("L"),
            cpt_code="cpt_code",
            modifiers=pl.col("modifiers").fill_null(""),
            service_date=pl.coalesce("service_date", "from_date"),
            cents=pl.col("charge_cents").abs(),
        )
        claim_units = claims.filter(pl.col("n_lines") == 0).select(
            "era_key",
            line_key=-pl.col("era_key"),
            kind=pl.lit("C"),
            cpt_code=pl.lit(None, pl.String),
            modifiers=pl.lit(""),
            service_date="from_date",
            cents=pl.col("charge_cents").abs(),
        )
        self.era_units = pl.concat([line_units, claim_units], how="vertical_relaxed")
        self.n_units = self.era_units.group_by("era_key").agg(n_units=pl.len())
        charges = store.charges
        units = [
            charges.select(
                "claim_id",
                unit_key="charge_id",
                kind=pl.lit("L"),
                client_id="client_id",
                cpt_code="cpt_code",
                modifiers="modifiers",
                service_date="service_date",
                cents="charge_cents",
            )
        ]
        if claim_units.height:  # whole-claim units only matter when a CLP came without SVC lines
            units.append(
                charges.group_by("claim_id").agg(
                    unit_key=-pl.col("claim_id").first(),
                    kind=pl.lit("C"),
                    client_id=pl.col("client_id").first(),
                    cpt_code=pl.lit(None, pl.String),
                    modifiers=pl.lit(""),
                    service_date=pl.col("service_date").min(),
                    cents=pl.col("charge_cents").sum(),
                )
            )
        self.store_units = pl.concat(units, how="vertical_relaxed")
        self.claim_client = store.claims.select(
            "claim_id", "client_id", "payer_code", "ccn_digits", "ccn_norm", "ccn_int"
        )
        # Patients the 835 names, by member id (here) and by exact or swapped name (``identify``).
        self.by_member = (
            self.era.filter(pl.col("has_member"))
            .join(store.policies.select("client_id", "member_norm").unique(), on="member_norm")
            .select("era_key", "client_id", via_member=pl.lit(True), via_name=pl.lit(False))
        )
        # Member ids known to the store: a member id that names somebody else is evidence against,
        # so a namesake of the member never stands in for them.
        self.member_known = self.by_member.select("era_key").unique()
        self.era_clients = self.identify(self.era.select("era_key").clear())

    def identify(self, keys: pl.DataFrame) -> pl.DataFrame:
        """era_key, client_id, via_member, via_name, name_unique for the CLPs ``keys`` (names are
        joined only for CLPs level 1 did not settle: namesakes make that join large)."""
        era = self.era.join(keys, on="era_key", how="semi")
        by_member = self.by_member.join(keys, on="era_key", how="semi")
        names = self.store.clients.select("client_id", "name_key")
        by_name = pl.concat(
            [
                era.join(names, on="name_key").select("era_key", "client_id"),
                era.join(names, left_on="swapped_key", right_on="name_key").select("era_key", "client_id"),
            ]
        ).select("era_key", "client_id", via_member=pl.lit(False), via_name=pl.lit(True))
        # A name alone identifies the patient only when no other client has it (synthetic and real
        # caseloads both have namesakes; the member id is what tells them apart).
        namesakes = by_name.group_by("era_key").agg(name_unique=pl.col("client_id").n_unique() == 1)
        return (
            pl.concat([by_member, by_name])
            .group_by("era_key", "client_id")
            .agg(pl.col("via_member").any(), pl.col("via_name").any())
            .join(self.member_known.with_columns(known=pl.lit(True)), on="era_key", how="left")
            .filter(pl.col("via_member") | pl.col("known").is_null())
            .drop("known")
            .join(namesakes, on="era_key", how="left")
            .with_columns(name_unique=pl.col("name_unique").fill_null(False) & pl.col("via_name"))
        )

    # -- pair features ------------------------------------------------------------------------

    def features(self, pairs: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Per (era_key, claim_id): line agreement and identity evidence; and per era line the best
        unit (charge, or the whole claim for a claim-level CLP) of that claim."""
        pairs = pairs.select("era_key", "claim_id").unique()
        x = (
            pairs.join(self.era_units, on="era_key")
            .join(self.store_units, on=["claim_id", "kind"], suffix="_s")
            .with_columns(
                cents_eq=pl.col("cents") == pl.col("cents_s"),
                cpt_eq=(pl.col("cpt_code") == pl.col("cpt_code_s")).fill_null(pl.col("kind") == "C"),
                days=(pl.col("service_date") - pl.col("service_date_s"))
                .dt.total_days()
                .abs()
                .fill_null(NO_DAYS),
                mods_ok=(pl.col("modifiers") == pl.col("modifiers_s")) | (pl.col("modifiers") == ""),
                mods_exact=pl.col("modifiers") == pl.col("modifiers_s"),
            )
            .with_columns(
                line_score=pl.col("cpt_eq").cast(pl.Int32) * 8
                + pl.col("cents_eq").cast(pl.Int32) * 4
                + (pl.col("days") == 0).cast(pl.Int32) * 2
                + (pl.col("days") <= self.s.l3_max_days).cast(pl.Int32)
                + pl.col("mods_exact").cast(pl.Int32),
                date_score=pl.when(pl.col("days") == 0)
                .then(1.0)
                .when(pl.col("days") == 1)
                .then(0.8)
                .when(pl.col("days") <= 3)
                .then(0.5)
                .when(pl.col("days") <= self.s.fuzzy_window_days)
                .then(0.2)
                .otherwise(0.0),
            )
        )
        best = x.sort(["era_key", "claim_id", "line_key", "line_score", "days", "unit_key"],
                      descending=[False, False, False, True, False, False]).unique(
            ["era_key", "claim_id", "line_key"], keep="first", maintain_order=True
        )  # fmt: skip
        agg = (
            best.group_by("era_key", "claim_id")
            .agg(
                n_cents=pl.col("cents_eq").sum(),
                n_cpt=pl.col("cpt_eq").sum(),
                n_date=(pl.col("days") == 0).sum(),
                date_score=pl.col("date_score").sum(),
                max_days=pl.col("days").max(),
                mods_ok=pl.col("mods_ok").all(),
                n_placed=(pl.col("cpt_eq") | pl.col("cents_eq")).sum(),
            )
            .join(self.n_units, on="era_key")
            .with_columns(
                amount_frac=pl.col("n_cents") / pl.col("n_units"),
                cpt_frac=pl.col("n_cpt") / pl.col("n_units"),
                date_frac=pl.col("date_score") / pl.col("n_units"),
                amount_ok=pl.col("n_cents") == pl.col("n_units"),
                date_ok=pl.col("n_date") == pl.col("n_units"),
                cpt_ok=pl.col("n_cpt") == pl.col("n_units"),
                placed=pl.col("n_placed") == pl.col("n_units"),
            )
        )
        out = pairs.join(agg, on=["era_key", "claim_id"], how="left").with_columns(
            pl.col("amount_frac", "cpt_frac", "date_frac").fill_null(0.0),
            pl.col("amount_ok", "date_ok", "cpt_ok", "placed").fill_null(False),
            pl.col("mods_ok").fill_null(True),
            pl.col("max_days").fill_null(NO_DAYS),
        )
        return self.identity(out), best

    def identity(self, pairs: pl.DataFrame) -> pl.DataFrame:
        """Adds client_id, member_eq, name_exact, name_sim, member_conflict, ccn_sim, payer_ok."""
        p = (
            pairs.join(self.claim_client, on="claim_id", how="left")
            .join(
                self.era.select(
                    "era_key",
                    "name_key",
                    "swapped_key",
                    "last_norm",
                    "first_norm",
                    "has_member",
                    "member_norm",
                    "ccn_digits",
                    "ccn_norm",
                    "ccn_int",
                    "payer_code",
                ),
                on="era_key",
                how="left",
                suffix="_era",
            )  # fmt: skip
            .join(
                self.store.clients.select(
                    "client_id",
                    pl.col("name_key").alias("client_key"),
                    pl.col("last_norm").alias("c_last"),
                    pl.col("first_norm").alias("c_first"),
                ),
                on="client_id",
                how="left",
            )  # fmt: skip
        )
        member_pairs = (
            self.store.policies.select("client_id", "member_norm")
            .unique()
            .with_columns(member_eq=pl.lit(True))
        )
        p = p.join(member_pairs, on=["client_id", "member_norm"], how="left").with_columns(
            member_eq=pl.col("member_eq").fill_null(False),
            name_exact=(pl.col("name_key") == pl.col("client_key"))
            | (pl.col("swapped_key") == pl.col("client_key")),
        )
        p = p.join(
            self.member_known.with_columns(member_known=pl.lit(True)), on="era_key", how="left"
        ).with_columns(member_conflict=pl.col("member_known").fill_null(False) & ~pl.col("member_eq"))
        # Names: rapidfuzz over aligned arrays (C speed), then the initial / double-surname rules.
        e_last = p["last_norm"].fill_null("").to_list()
        e_first = p["first_norm"].fill_null("").to_list()
        c_last = p["c_last"].fill_null("").to_list()
        c_first = p["c_first"].fill_null("").to_list()
        full_e = [f"{a} {b}" for a, b in zip(e_last, e_first, strict=True)]
        full_c = [f"{a} {b}" for a, b in zip(c_last, c_first, strict=True)]
        if p.height:
            sort_sim = process.cpdist(full_e, full_c, scorer=fuzz.token_sort_ratio, workers=-1) / 100.0
            last_sim = process.cpdist(e_last, c_last, scorer=fuzz.ratio, workers=-1) / 100.0
            first_sim = process.cpdist(e_first, c_first, scorer=fuzz.ratio, workers=-1) / 100.0
            ccn_sim = process.cpdist(
                p["ccn_digits_era"].fill_null("").to_list(), p["ccn_digits"].fill_null("").to_list(),
                scorer=OSA.normalized_similarity, workers=-1,
            )  # fmt: skip
        else:
            sort_sim = last_sim = first_sim = ccn_sim = []
        p = p.with_columns(
            _sort=pl.Series(sort_sim, dtype=pl.Float64),
            _last=pl.Series(last_sim, dtype=pl.Float64),
            _first=pl.Series(first_sim, dtype=pl.Float64),
            ccn_sim=pl.Series(ccn_sim, dtype=pl.Float64),
        )
        initial = (pl.col("first_norm").str.len_chars() == 1) & (
            pl.col("first_norm") == pl.col("c_first").str.slice(0, 1)
        )
        double_surname = pl.col("last_norm").str.contains(" ") & pl.col("last_norm").str.split(
            " "
        ).list.contains(pl.col("c_last"))
        p = (
            p.with_columns(
                name_sim=pl.max_horizontal(
                    pl.col("_sort"),
                    pl.when(initial).then(0.92 * pl.col("_last")).otherwise(0.0),
                    pl.when(double_surname.fill_null(False)).then(0.95 * pl.col("_first")).otherwise(0.0),
                    pl.when(pl.col("name_exact")).then(1.0).otherwise(0.0),
                ).fill_null(0.0),
                ccn_exact=(pl.col("ccn_norm_era") == pl.col("ccn_norm")).fill_null(False),
                # The same number once prefix and leading zeros are gone (meaningful with a few digits only).
                ccn_digits_eq=(
                    (pl.col("ccn_int_era") == pl.col("ccn_int"))
                    & (pl.col("ccn_digits_era").str.len_chars() >= 4)
                ).fill_null(False),
                payer_ok=(pl.col("payer_code") == pl.col("payer_code_era")).fill_null(True),
            )
            .with_columns(
                ccn_sim=pl.when(pl.col("ccn_exact") | pl.col("ccn_digits_eq"))
                .then(1.0)
                .otherwise(pl.col("ccn_sim"))
                .fill_null(0.0),
            )
            .drop("_sort", "_last", "_first", "member_known")
        )
        return p

    # -- levels -------------------------------------------------------------------------------

    def level1(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        claims = self.store.claims.select("claim_id", "ccn_norm")
        pairs = (
            self.era.select("era_key", "ccn_norm").join(claims, on="ccn_norm").select("era_key", "claim_id")
        )
        f, best = self.features(pairs)
        self._l1_features = (f, best)  # reused for the accepted pairs' reasons and line placement
        identity_ok = pl.col("member_eq") | pl.col("name_exact") | (pl.col("name_sim") >= 0.85)
        identity_bad = pl.col("member_conflict") | ((pl.col("name_sim") < 0.5) & ~pl.col("member_eq"))
        # A transposed number can be somebody else's real claim, even one on the same day for the
        # same service: the patient has to agree too.
        # The patient's own other visit is the next trap (same amount, another week), so the dates
        # must agree as well, give or take a keying slip.
        near = pl.col("max_days") <= self.s.l3_max_days
        accepted = f.filter(
            ~identity_bad
            & identity_ok
            & pl.col("placed")
            & ((pl.col("date_ok") & (pl.col("amount_ok") | pl.col("cpt_ok"))) | (pl.col("amount_ok") & near))
        ).with_columns(
            method=pl.lit(MatchMethod.CCN_EXACT.value),
            confidence=pl.when(pl.col("amount_ok") & pl.col("date_ok")).then(1.0).otherwise(0.96),
        )
        return self._one_per_era(accepted), pairs

    def _client_level(self, keys: pl.DataFrame, level: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Levels 2 and 3: (accepted, ambiguous candidate pairs) among era keys ``keys``."""
        ec = self.era_clients.join(keys, on="era_key", how="semi")
        units = self.era_units.join(ec, on="era_key")
        store = self.store_units
        if level == 2:
            hits = units.join(
                store, on=["client_id", "kind", "service_date", "cents"], suffix="_s"
            ).with_columns(days=pl.lit(0))
        else:
            hits = (
                units.filter(pl.col("kind") == "L")
                .join(store.filter(pl.col("kind") == "L"), on=["client_id", "cpt_code", "cents"], suffix="_s")
                .with_columns(days=(pl.col("service_date") - pl.col("service_date_s")).dt.total_days().abs())
                .filter(pl.col("days") <= self.s.l3_max_days)
            )
        cover = (
            hits.group_by("era_key", "claim_id")
            .agg(
                covered=pl.col("line_key").n_unique(),
                max_days=pl.col("days").max(),
                via_member=pl.col("via_member").any(),
                via_name=pl.col("name_unique").any(),
            )
            .join(self.n_units, on="era_key")
            .filter(pl.col("covered") == pl.col("n_units"))
        )
        # The member id is the payer's own key for the patient: when exactly one covering claim
        # belongs to the member, namesakes with a visit that day do not make it ambiguous.
        n_claims = cover.group_by("era_key").agg(n=pl.len(), n_member=pl.col("via_member").sum())
        cover = cover.join(n_claims, on="era_key")
        decisive = ((pl.col("n") == 1) & (pl.col("via_member") | pl.col("via_name"))) | (
            (pl.col("n_member") == 1) & pl.col("via_member")
        )
        unique = cover.filter(decisive)
        ambiguous = cover.join(unique.select("era_key"), on="era_key", how="anti").select(
            "era_key", "claim_id"
        )
        if level == 2:
            method = MatchMethod.CLIENT_DATE_AMOUNT.value
            confidence = (
                pl.when(pl.col("via_member") & pl.col("via_name"))
                .then(0.98)
                .when(pl.col("via_member"))
                .then(0.97)
                .otherwise(0.93)
            )
        else:
            method = MatchMethod.CLIENT_CPT_AMOUNT.value
            confidence = (
                pl.when(pl.col("via_member") & pl.col("via_name"))
                .then(0.96)
                .when(pl.col("via_member"))
                .then(0.95)
                .otherwise(0.91)
            ) - 0.01 * pl.col("max_days").cast(pl.Float64)
        accepted = unique.select("era_key", "claim_id", method=pl.lit(method), confidence=confidence)
        # Level 2/3 need the lines to land on charges too (a claim-level CLP lands on the claim).
        f, _ = self.features(accepted)
        accepted = (
            accepted.join(f.select("era_key", "claim_id", "placed"), on=["era_key", "claim_id"])
            .filter(pl.col("placed"))
            .drop("placed")
        )
        return accepted, ambiguous

    def level4_pairs(self, keys: pl.DataFrame, extra: list[pl.DataFrame]) -> pl.DataFrame:
        era = self.era.join(keys, on="era_key", how="semi")
        claims = self.store.claims
        parts = [e.join(keys, on="era_key", how="semi").select("era_key", "claim_id") for e in extra]
        # Same trailing digits (dropped prefix, stripped zeros, case and padding).
        parts.append(
            era.filter(pl.col("ccn_int").is_not_null())
            .join(claims.filter(pl.col("ccn_int").is_not_null()).select("claim_id", "ccn_int"), on="ccn_int")
            .select("era_key", "claim_id")
        )
        # Two adjacent digits swapped.
        swaps = era.filter(pl.col("ccn_digits").str.len_chars().is_between(2, 18)).select(
            "era_key", "ccn_digits"
        )
        variants = []
        for row in swaps.iter_rows():
            key, digits = row
            for i in range(len(digits) - 1):
                if digits[i] != digits[i + 1]:
                    variants.append((key, int(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])))
        if variants:
            swapped = pl.DataFrame(variants, schema={"era_key": pl.Int64, "ccn_int": pl.Int64}, orient="row")
            parts.append(
                swapped.join(claims.select("claim_id", "ccn_int"), on="ccn_int").select("era_key", "claim_id")
            )
        # The member's (or same-named clients') claims with a line near the CLP's dates.
        units = self.era_units.join(keys, on="era_key", how="semi")
        window = self.s.fuzzy_window_days
        near = (
            units.join(self.era_clients, on="era_key")
            .join(self.store_units.filter(pl.col("kind") == "L"), on="client_id", suffix="_s")
            .filter((pl.col("service_date") - pl.col("service_date_s")).dt.total_days().abs() <= window)
            .select("era_key", "claim_id")
        )
        parts.append(near)
        # Nobody identified: any claim with a line on the same day for the same amount.
        unknown = units.join(self.era_clients, on="era_key", how="anti")
        parts.append(
            unknown.join(self.store_units, on=["kind", "service_date", "cents"], suffix="_s").select(
                "era_key", "claim_id"
            )
        )
        return pl.concat(parts, how="vertical_relaxed").unique()

    def score(self, pairs: pl.DataFrame) -> pl.DataFrame:
        f, _ = self.features(pairs)
        identity = pl.when(pl.col("member_eq")).then(1.0).otherwise(pl.col("name_sim"))
        identity = (
            pl.when(pl.col("member_conflict")).then(pl.min_horizontal(identity, 0.5)).otherwise(identity)
        )
        score = (
            W_IDENTITY * identity
            + W_DATE * pl.col("date_frac")
            + W_AMOUNT * pl.col("amount_frac")
            + W_CPT * pl.col("cpt_frac")
            + W_CCN * pl.col("ccn_sim")
            - pl.when(pl.col("mods_ok")).then(0.0).otherwise(0.05)
            - pl.when(pl.col("payer_ok")).then(0.0).otherwise(0.05)
            - pl.when(pl.col("placed")).then(0.0).otherwise(0.3)
        ).clip(0.0, 1.0)
        return f.with_columns(score=score, identity=identity)

    # -- orchestration ------------------------------------------------------------------------

    @staticmethod
    def _one_per_era(frame: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.sort(["era_key", "confidence", "claim_id"], descending=[False, True, False])
            .unique("era_key", keep="first", maintain_order=True)
            .select("era_key", "claim_id", "method", "confidence")
        )

    def run(self) -> MatchResult:
        s = self.s
        all_keys = self.era.select("era_key")
        l1, l1_pairs = self.level1()
        decided = [l1]
        rest = all_keys.join(l1, on="era_key", how="anti")
        unsettled = pl.concat([rest, l1.filter(pl.col("confidence") < s.min_confidence).select("era_key")])
        self.era_clients = self.identify(unsettled)
        l2, amb2 = self._client_level(rest, 2)
        decided.append(l2)
        rest = rest.join(l2, on="era_key", how="anti")
        l3, amb3 = self._client_level(rest, 3)
        decided.append(l3)
        rest = rest.join(l3, on="era_key", how="anti")
        chosen = pl.concat(decided, how="vertical_relaxed")

        # Level 4 for what is left, and candidates for everything below the posting threshold.
        weak = chosen.filter(pl.col("confidence") < s.min_confidence).select("era_key")
        pool_keys = pl.concat([rest, weak]).unique()
        pool = self.level4_pairs(pool_keys, [l1_pairs, amb2, amb3, chosen])
        scored = self.score(pool) if pool.height else None
        candidates = self._candidates(scored) if scored is not None else _empty_candidates()
        if scored is not None and scored.height:
            top = candidates.filter(pl.col("rank") == 1).join(rest, on="era_key", how="semi")
            second = candidates.filter(pl.col("rank") == 2).select("era_key", second=pl.col("score"))
            l4 = (
                top.join(second, on="era_key", how="left")
                .with_columns(margin=pl.col("score") - pl.col("second").fill_null(0.0))
                .select(
                    "era_key",
                    "claim_id",
                    method=pl.lit(MatchMethod.FUZZY.value),
                    confidence=(
                        pl.col("score")
                        * pl.min_horizontal(pl.lit(1.0), 0.6 + 0.4 * pl.col("margin") / s.fuzzy_clear_margin)
                    ).round(4),
                )
            )
            chosen = pl.concat([chosen, l4], how="vertical_relaxed")

        # Reasons and the line -> charge assignment of every chosen pair (level 1's already known).
        keys = ["era_key", "claim_id"]
        from_l1 = l1.select(keys)
        f_rest, best_rest = self.features(chosen.join(from_l1, on=keys, how="anti"))
        f1, best1 = self._l1_features
        f = pl.concat([f1.join(from_l1, on=keys, how="semi"), f_rest], how="vertical_relaxed")
        best = pl.concat([best1.join(from_l1, on=keys, how="semi"), best_rest], how="vertical_relaxed")
        chosen = chosen.join(f, on=["era_key", "claim_id"], how="left").with_columns(
            reasons=_reasons(),
            # A CLP whose lines do not all land on charges cannot be posted automatically.
            confidence=pl.when(pl.col("placed"))
            .then(pl.col("confidence"))
            .otherwise(pl.min_horizontal(pl.col("confidence"), 0.5)),
        )
        lines = self._assign(
            best.join(chosen.select("era_key", "claim_id"), on=["era_key", "claim_id"], how="semi")
        )
        result_claims = all_keys.join(
            chosen.select("era_key", "claim_id", "method", "confidence", "reasons"), on="era_key", how="left"
        ).sort("era_key")
        low = result_claims.filter(pl.col("confidence").is_null() | (pl.col("confidence") < s.min_confidence))
        candidates = candidates.join(low, on="era_key", how="semi")
        return MatchResult(claims=result_claims, lines=lines, candidates=candidates)

    def _candidates(self, scored: pl.DataFrame) -> pl.DataFrame:
        ranked = (
            scored.with_columns(reasons=_reasons())
            .sort(["era_key", "score", "claim_id"], descending=[False, True, False])
            .with_columns(rank=pl.col("claim_id").cum_count().over("era_key").cast(pl.Int64))
            .filter((pl.col("rank") <= self.s.review_candidates) & (pl.col("score") >= MIN_CANDIDATE_SCORE))
        )
        single = (
            self.store.charges.group_by("claim_id")
            .agg(n=pl.len(), charge_id=pl.col("charge_id").first())
            .select("claim_id", charge_id=pl.when(pl.col("n") == 1).then(pl.col("charge_id")))
        )
        return ranked.join(single, on="claim_id", how="left").select(
            "era_key", "rank", "claim_id", "charge_id", pl.col("score").round(4), "reasons"
        )

    def _assign(self, best: pl.DataFrame) -> pl.DataFrame:
        """One charge per SVC line of each chosen pair; lines of one CLP never share a charge."""
        lines = best.filter(pl.col("kind") == "L").select(
            "era_key",
            service_line_id="line_key",
            charge_id=pl.when(pl.col("cpt_eq") | pl.col("cents_eq")).then(pl.col("unit_key")),
        )
        clash = lines.filter(
            pl.col("charge_id").is_not_null() & pl.struct("era_key", "charge_id").is_duplicated()
        )
        if clash.height == 0:
            return lines
        keys = clash.select("era_key").unique()
        fixed = []
        for (era_key,), group in best.join(keys, on="era_key", how="semi").group_by(["era_key"]):
            fixed.extend(self._greedy(era_key, group))
        fixed_frame = pl.DataFrame(fixed, schema={"era_key": pl.Int64, "service_line_id": pl.Int64,
                                                  "charge_id": pl.Int64}, orient="row")  # fmt: skip
        return pl.concat([lines.join(keys, on="era_key", how="anti"), fixed_frame], how="vertical_relaxed")

    def _greedy(self, era_key: int, group: pl.DataFrame) -> list[tuple[int, int, int | None]]:
        # Recompute every (line, charge) score of this CLP's claim and take the best pairs first.
        claim_id = group["claim_id"][0]
        units = self.era_units.filter(pl.col("era_key") == era_key)
        charges = self.store_units.filter((pl.col("claim_id") == claim_id) & (pl.col("kind") == "L"))
        options = []
        for u in units.iter_rows(named=True):
            for c in charges.iter_rows(named=True):
                cpt_eq = u["cpt_code"] == c["cpt_code"]
                cents_eq = u["cents"] == c["cents"]
                if not (cpt_eq or cents_eq):
                    continue
                same_day = u["service_date"] == c["service_date"]
                options.append((-(cpt_eq * 8 + cents_eq * 4 + same_day * 2), u["line_key"], c["unit_key"]))
        options.sort()
        taken_lines: dict[int, int] = {}
        taken_charges: set[int] = set()
        for _, line_key, charge_id in options:
            if line_key not in taken_lines and charge_id not in taken_charges:
                taken_lines[line_key] = charge_id
                taken_charges.add(charge_id)
        return [(era_key, u, taken_lines.get(u)) for u in units["line_key"].to_list()]


def _reasons() -> pl.Expr:
    """Why a pair scored as it did: codes and offsets, never names or ids of people."""
    return pl.concat_str(
        [
            pl.when(pl.col("ccn_exact"))
            .then(pl.lit("ccn=exact"))
            .when(pl.col("ccn_digits_eq"))
            .then(pl.lit("ccn=digits"))
            .otherwise(pl.format("ccn={}", (pl.col("ccn_sim") * 100).round(0).cast(pl.Int64))),
            pl.when(pl.col("member_eq")).then(pl.lit("member=yes")).when(pl.col("member_conflict"))
            .then(pl.lit("member=other")).otherwise(pl.lit("member=none")),
            pl.when(pl.col("name_exact")).then(pl.lit("name=exact")).otherwise(
                pl.format("name={}", (pl.col("name_sim") * 100).round(0).cast(pl.Int64))
            ),
            pl.when(pl.col("date_ok")).then(pl.lit("date=same")).otherwise(
                pl.format("date={}d", pl.col("max_days"))
            ),
            pl.when(pl.col("amount_ok")).then(pl.lit("amount=same")).otherwise(
                pl.format("amount={}%", (pl.col("amount_frac") * 100).round(0).cast(pl.Int64))
            ),
            pl.when(pl.col("cpt_ok")).then(pl.lit("cpt=same")).otherwise(pl.lit("cpt=differs")),
            pl.when(pl.col("mods_ok")).then(pl.lit("mods=ok")).otherwise(pl.lit("mods=differ")),
        ],
        separator=";",
    )  # fmt: skip


def _empty_candidates() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "era_key": pl.Int64,
            "rank": pl.Int64,
            "claim_id": pl.Int64,
            "charge_id": pl.Int64,
            "score": pl.Float64,
            "reasons": pl.String,
        }  # fmt: skip
    )
