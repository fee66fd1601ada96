"""One parsed 835 as the polars frames matching and posting work on (amounts in integer cents).

The parser's flat tables leave out patient names and member ids on purpose (minimum necessary PHI
for the warehouse); an NM1 id that is a Social Security number (qualifier 34) is dropped here too. Matching runs inside the operational store, which holds that PHI anyway, so
the NM1*QC / NM1*IL identity is read here straight from the file's bytes with one vectorised pass
(the parser's typed records carry it too, but building them costs ~45 s for 200,000 claims). The
k-th CLP of that pass is checked against the k-th CLP of the parser (same CLP01), so the two can
never drift apart silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from edi835 import ParseResult
from operational_api.errors import PlatformError

CENTS = pl.Int64


@dataclass(frozen=True)
class EraFrames:
    """The frames of one 835 file.

    checks        one row per ST (payer check / EFT): remittance_id, transaction_set_control_number,
                  trace_number, payment_cents, payment_date, payment_method_code, payer_code, payer_name
    claims        one row per CLP: era_key (the CLP's segment position), remittance_id, clp01,
                  ccn_norm, status_code, is_reversal, charge/paid/patient cents, payer ICN, statement
                  dates, payer_code, patient names and member id (raw and normalised), n_lines
    lines         one row per SVC: service_line_id, era_key, cpt_code, modifiers, units, service_date,
                  charge/paid/allowed cents
    adjustments   one row per CAS triplet: era_key, service_line_id (null at claim level), group_code,
                  carc_code, cents
    remarks       one row per remark code: era_key, service_line_id (null at claim level), rarc_code
    """

    file_name: str
    file_hash: str
    interchange_control_number: str | None
    checks: pl.DataFrame
    claims: pl.DataFrame
    lines: pl.DataFrame
    adjustments: pl.DataFrame
    remarks: pl.DataFrame


def cents(column: str) -> pl.Expr:
    """A Decimal(12, 2) dollars column as Int64 cents."""
    return (pl.col(column) * 100).cast(CENTS)


def normalise_name(expr: pl.Expr) -> pl.Expr:
    """Upper case, letters and single spaces only (hyphens and punctuation become spaces)."""
    return expr.str.to_uppercase().str.replace_all(r"[^A-Z]+", " ").str.strip_chars()


def normalise_member_id(expr: pl.Expr) -> pl.Expr:
    """Upper case, letters and digits only."""
    return expr.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")


def normalise_ccn(expr: pl.Expr) -> pl.Expr:
    """Level 1's normal form of a claim control number: trimmed, upper case."""
    return expr.str.strip_chars().str.to_uppercase()


def ccn_digits(expr: pl.Expr) -> pl.Expr:
    """The trailing digits of a claim control number as an integer (prefix and leading zeros gone):
    MS00001234, 00001234 and MS1234 all give 1234."""
    return expr.str.strip_chars().str.extract(r"(\d{1,18})$", 1).cast(pl.Int64, strict=False)


def build_frames(result: ParseResult, data: bytes) -> EraFrames:
    """The frames of a parsed file (``data`` is the same bytes the parser read)."""
    rem = result.remittances
    checks = rem.select(
        "remittance_id",
        "transaction_set_control_number",
        "trace_number",
        "interchange_control_number",
        payment_cents=cents("payment_amount"),
        payment_date="payment_date",
        payment_method_code="payment_method_code",
        transaction_handling_code="transaction_handling_code",
        payer_code=pl.coalesce(pl.col("payer_id"), pl.col("payer_reference_id")).str.strip_chars(),
        payer_name="payer_name",
    )
    claims = result.claims.select(
        era_key="claim_id",
        remittance_id="remittance_id",
        segment_position="segment_position",
        clp01=pl.col("patient_control_number").fill_null(""),
        status_code=pl.col("claim_status_code").fill_null(""),
        is_reversal="is_reversal",
        charge_cents=cents("charge_amount").fill_null(0),
        paid_cents=cents("paid_amount").fill_null(0),
        patient_cents=cents("patient_responsibility_amount").fill_null(0),
        payer_claim_control_number="payer_claim_control_number",
        from_date=pl.coalesce("statement_from_date", "statement_to_date"),
        to_date=pl.coalesce("statement_to_date", "statement_from_date"),
        n_lines=pl.col("service_line_count").fill_null(0),
    ).with_columns(ccn_norm=normalise_ccn(pl.col("clp01")))
    claims = claims.join(checks.select("remittance_id", "payer_code"), on="remittance_id", how="left")
    claims = claims.join(_patients(result, data), on="era_key", how="left").with_columns(
        last_norm=normalise_name(pl.col("patient_last_name")),
        first_norm=normalise_name(pl.col("patient_first_name")),
        member_norm=normalise_member_id(pl.coalesce("patient_member_id", "insured_member_id")),
    )
    lines = result.service_lines.select(
        "service_line_id",
        era_key="claim_id",
        segment_position="segment_position",
        cpt_code=pl.col("cpt_code").str.strip_chars().str.to_uppercase(),
        modifiers=pl.col("modifiers").list.sort().list.join(","),
        units=pl.coalesce("units_paid", "original_units"),
        service_date=pl.coalesce("service_date", "service_start_date"),
        charge_cents=cents("charge_amount").fill_null(0),
        paid_cents=cents("paid_amount").fill_null(0),
        allowed_cents=cents("allowed_amount"),
    ).filter(pl.col("era_key").is_not_null())
    adjustments = result.adjustments.filter(pl.col("claim_id").is_not_null()).select(
        era_key="claim_id",
        service_line_id="service_line_id",
        group_code=pl.col("group_code").fill_null("OA"),
        carc_code=pl.col("carc_code").fill_null(""),
        cents=cents("adjustment_amount").fill_null(0),
    )
    remarks = result.remark_codes.filter(
        pl.col("claim_id").is_not_null() & pl.col("rarc_code").is_not_null()
    ).select(era_key="claim_id", service_line_id="service_line_id", rarc_code="rarc_code")
    icn = checks["interchange_control_number"].drop_nulls()
    return EraFrames(
        file_name=result.file_name,
        file_hash=result.source_file_id,
        interchange_control_number=icn[0] if len(icn) else None,
        checks=checks,
        claims=claims,
        lines=lines,
        adjustments=adjustments,
        remarks=remarks,
    )


def _patients(result: ParseResult, data: bytes) -> pl.DataFrame:
    """era_key, patient_last_name, patient_first_name, patient_member_id, insured_member_id."""
    schema = {
        "era_key": pl.Int64,
        "patient_last_name": pl.String,
        "patient_first_name": pl.String,
        "patient_member_id": pl.String,
        "insured_member_id": pl.String,
    }
    claims = result.claims
    if claims.height == 0:
        return pl.DataFrame(schema=schema)
    delimiters = {(d.element, d.segment) for d in result.delimiters}
    if len(delimiters) != 1:
        return _patients_from_records(result, schema)
    element, terminator = delimiters.pop()
    e, t = re.escape(element), re.escape(terminator)
    pattern = rf"(?:^|{t})\s*(?:CLP|NM1{e}QC|NM1{e}IL){e}[^{t}]*"
    found = (
        pl.Series("s", [data.decode("latin-1")])
        .str.extract_all(pattern)
        .explode()
        .drop_nulls()
        .str.strip_chars_start(terminator + " \t\r\n")
    )
    fields = found.str.split(element)
    frame = pl.DataFrame({"seg": fields.list.get(0, null_on_oob=True), "f": fields})
    frame = frame.with_columns(
        code=pl.when(pl.col("seg") == "CLP")
        .then(pl.lit("CLP"))
        .otherwise(pl.col("f").list.get(1, null_on_oob=True))
    ).with_columns(ordinal=(pl.col("code") == "CLP").cum_sum())
    clp = frame.filter(pl.col("code") == "CLP")
    expected = claims.sort("claim_id")["patient_control_number"].fill_null("")
    written = clp["f"].list.get(1, null_on_oob=True).fill_null("")
    if clp.height != claims.height or not (written == expected).all():
        # The file has something the regular expression did not foresee: take the slow, exact path.
        return _patients_from_records(result, schema)
    keys = pl.DataFrame(
        {
            "ordinal": pl.int_range(1, claims.height + 1, eager=True),
            "era_key": claims.sort("claim_id")["claim_id"],
        }
    )
    qc = (
        frame.filter((pl.col("code") == "QC") & (pl.col("ordinal") > 0))
        .group_by("ordinal", maintain_order=True)
        .first()
        .select(
            "ordinal",
            patient_last_name=pl.col("f").list.get(3, null_on_oob=True),
            patient_first_name=pl.col("f").list.get(4, null_on_oob=True),
            patient_member_id=_member_id(),
        )
    )
    il = (
        frame.filter((pl.col("code") == "IL") & (pl.col("ordinal") > 0))
        .group_by("ordinal", maintain_order=True)
        .first()
        .select("ordinal", insured_member_id=_member_id())
    )
    out = keys.join(qc, on="ordinal", how="left").join(il, on="ordinal", how="left").drop("ordinal")
    return out.with_columns(pl.col(c).replace("", None) for c in schema if c != "era_key").select(
        list(schema)
    )


def _member_id() -> pl.Expr:
    # NM1 08/09; qualifier 34 is a Social Security number: never kept, never matched on.
    qualifier = pl.col("f").list.get(8, null_on_oob=True)
    return pl.when(qualifier.fill_null("") != "34").then(pl.col("f").list.get(9, null_on_oob=True))


def _patients_from_records(result: ParseResult, schema: dict) -> pl.DataFrame:
    rows = []
    try:
        transactions = result.transactions
    except Exception as exc:  # the typed records raise Edi835Error; say which file, never what is in it
        raise PlatformError(f"{result.file_name}: cannot read patient names ({type(exc).__name__})") from None
    for remittance in transactions:
        for claim in remittance.claims:
            patient = claim.patient
            insured = next((n for n in claim.names if n.entity_code == "IL"), None)
            rows.append(
                (
                    claim.segment_position,
                    patient.last_or_organization_name if patient else None,
                    patient.first_name if patient else None,
                    patient.identifier if patient and patient.id_qualifier != "34" else None,
                    insured.identifier if insured and insured.id_qualifier != "34" else None,
                )
            )
    return pl.DataFrame(rows, schema=schema, orient="row")
