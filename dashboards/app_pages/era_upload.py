"""ERA upload (billing staff): upload an 835, check it, post it, then work the manual review queue.

Posting goes through operational_api's posting service (one transaction per file, idempotent by
file hash and ISA13 + TRN02), and the file is also handed to the ERA inbox so Dagster lands it in
the warehouse; the sensor's own posting then finds it already posted. Same file twice = posted once.
"""

import hashlib

import polars as pl
import streamlit as st

import edi835
from dashboards import audit_trail
from dashboards.auth import store_engine
from dashboards.components import ui
from dashboards.data.cache import clear_all
from operational_api import audit
from operational_api.era.posting import (
    PostingError,
    mark_unmatchable,
    post_bytes,
    resolve_review,
    review_queue,
)
from operational_api.era_inbox import submit
from operational_api.errors import PlatformError

PAGE = "era"
BILLING_ROLES = ("BILLING", "ADMIN")


def _validation_summary(data: bytes, file_name: str) -> tuple[pl.DataFrame, list[str], list[str]] | str:
    """Per-transaction totals and the validator's messages, or the parse error as one line."""
    try:
        result = edi835.parse_bytes(data, file_name)
    except edi835.Edi835Error as exc:
        return str(exc)
    remittances = result.tables["remittances"].select(
        "payer_name",
        "trace_number",
        "payment_date",
        "payment_amount",
        "claim_count",
        "service_line_count",
        "is_balanced",
    )
    errors = [f"{i.code}: {i.message}" for i in result.validation.errors]
    warnings = [f"{i.code}: {i.message}" for i in result.validation.warnings]
    return remittances, errors, warnings


def _upload_section(user) -> None:
    uploaded = st.file_uploader(
        "835 remittance file",
        type=None,
        key=f"{PAGE}_file",
        help="The ERA file downloaded from AdvancedMD or the clearinghouse (X12 835).",
    )
    if uploaded is None:
        st.info("Choose an 835 file to see its validation summary before anything is posted.")
        return
    data = uploaded.getvalue()
    summary = _validation_summary(data, uploaded.name)
    if isinstance(summary, str):
        st.error(ui.plain(summary))
        return
    remittances, errors, warnings = summary
    st.subheader("Validation summary")
    st.dataframe(remittances.to_pandas(), hide_index=True, width="stretch")
    for message in errors:
        st.error(ui.plain(message))
    if warnings:
        with st.expander(f"{len(warnings)} warning(s) (the money data is intact)"):
            for message in warnings[:200]:
                st.text(message)
    if errors:
        st.warning("This file has errors and cannot be posted.")
        return
    if st.button("Post this remittance", type="primary", key=f"{PAGE}_post"):
        with st.spinner("Matching claims and posting payments…"):
            digest = hashlib.sha256(data).hexdigest()
            try:
                result = post_bytes(
                    store_engine(),
                    data,
                    uploaded.name,
                    uploaded_by=user.user_id,
                    audit_source=audit.DASHBOARDS,
                )
            except PostingError as exc:
                audit_trail.record(
                    user,
                    "era.post",
                    entity="era_file",
                    entity_id=digest,
                    outcome="refused",
                    detail={"reason": type(exc).__name__, "bytes": len(data)},
                )
                st.error(ui.plain(exc))
                return
            submit(data, uploaded.name)
        st.session_state[f"{PAGE}_result"] = result
        if not result.already_posted:
            # New payments: no page may keep serving loader results cached before them.
            clear_all()
    result = st.session_state.get(f"{PAGE}_result")
    if result is not None:
        summary = "\n\n".join(ui.plain(line) for line in result.summary_lines())
        (st.info if result.already_posted else st.success)(summary)
        if not result.already_posted and result.level_counts:
            levels = pl.DataFrame(
                {"match level": list(result.level_counts), "claims": list(result.level_counts.values())}
            )
            st.dataframe(levels.to_pandas(), hide_index=True)


def _review_section(user) -> None:
    st.subheader("Manual review queue")
    items = review_queue(store_engine(), limit=50)
    if not items:
        st.info("Nothing waits for review: every claim payment was matched and posted.")
        return
    rows = pl.DataFrame(
        [
            {
                "era claim": i.era_claim_id,
                "file": i.file_name,
                "claim control number": i.claim_control_number,
                "status": i.claim_status_code,
                "charged": float(i.charge_amount),
                "paid": float(i.paid_amount),
                "held because": i.hold_reason or "",
                "best candidate": i.candidates[0].claim_control_number if i.candidates else "",
                "score": round(i.candidates[0].score, 2) if i.candidates else None,
            }
            for i in items
        ]
    )
    st.dataframe(rows.to_pandas(), hide_index=True, width="stretch")
    ui.csv_button(rows, f"{PAGE}_review", "era_review_queue.csv")
    chosen = st.selectbox("Work on ERA claim", [i.era_claim_id for i in items], key=f"{PAGE}_review_item")
    item = next(i for i in items if i.era_claim_id == chosen)
    options = {
        f"#{c.rank} claim {c.claim_control_number} (score {c.score:.2f}: {c.reasons})": c
        for c in item.candidates
    }
    if options:
        label = st.radio("Candidates", list(options), format_func=ui.plain, key=f"{PAGE}_candidate")
        if st.button("Post to this claim", key=f"{PAGE}_resolve"):
            candidate = options[label]
            try:
                outcome = resolve_review(
                    store_engine(),
                    item.era_claim_id,
                    claim_id=candidate.claim_id,
                    charge_id=candidate.charge_id,
                    user_id=user.user_id,
                    audit_source=audit.DASHBOARDS,
                )
            except PlatformError as exc:
                audit_trail.record(
                    user,
                    "era.resolve",
                    entity="era_claim",
                    entity_id=item.era_claim_id,
                    outcome="refused",
                    detail={"reason": type(exc).__name__},
                )
                st.error(ui.plain(exc))
            else:
                clear_all()  # the chosen claim's payment is posted now
                st.success(ui.plain(outcome.summary_line()))
    else:
        st.write("No candidate scored high enough; find the claim in AdvancedMD or set this one aside.")
    if st.button("Mark unmatchable", key=f"{PAGE}_unmatchable"):
        try:
            outcome = mark_unmatchable(
                store_engine(), item.era_claim_id, user_id=user.user_id, audit_source=audit.DASHBOARDS
            )
            st.success(ui.plain(outcome.summary_line()))
        except PlatformError as exc:
            audit_trail.record(
                user,
                "era.unmatchable",
                entity="era_claim",
                entity_id=item.era_claim_id,
                outcome="refused",
                detail={"reason": type(exc).__name__},
            )
            st.error(ui.plain(exc))


def render() -> None:
    user = st.session_state["auth_user"]
    st.title("ERA upload")
    if user.role not in BILLING_ROLES:
        st.error("ERA posting is for billing staff and administrators.")
        return
    _upload_section(user)
    _review_section(user)


render()
