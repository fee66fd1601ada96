"""Segment-level behaviour of each 835 loop, on small synthetic fixtures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import edi835
from tests.edi835.conftest import fixture_path, parse_fixture


# ---- header: BPR, TRN, CUR, REF, DTM ----------------------------------------------------------
def test_header_bpr_trn_cur_ref_dtm_fill_the_remittance_row():
    rem = parse_fixture("header_payer_payee_loops.835").remittances.row(0, named=True)
    assert rem["transaction_handling_code"] == "I"
    assert rem["payment_amount"] == Decimal("100.00")
    assert (rem["credit_debit_flag"], rem["payment_method_code"], rem["payment_format_code"]) == (
        "C",
        "ACH",
        "CTX",
    )
    assert rem["payment_date"] == dt.date(2024, 1, 20)
    assert (rem["trace_type_code"], rem["trace_number"], rem["payer_originating_company_id"]) == (
        "1",
        "TRACE0007",
        "1999999999",
    )
    assert rem["currency_code"] == "CAD"
    assert rem["receiver_id"] == "SYNRECEIVER"
    assert rem["production_date"] == dt.date(2024, 1, 19)
    assert rem["implementation_convention_reference"] == "005010X221A1"


def test_header_records_keep_every_reference_and_date():
    txn = parse_fixture("header_payer_payee_loops.835").transactions[0]
    assert [(r.qualifier, r.value) for r in txn.references] == [("EV", "SYNRECEIVER"), ("F2", "4010")]
    assert txn.production_date == dt.date(2024, 1, 19)
    assert txn.payment.trace_number == "TRACE0007"
    assert txn.currency_code == "CAD"


# ---- payer 1000A and payee 1000B ---------------------------------------------------------------
def test_payer_loop_n1_n3_n4_ref_per():
    result = parse_fixture("header_payer_payee_loops.835")
    rem = result.remittances.row(0, named=True)
    assert (rem["payer_name"], rem["payer_id_qualifier"], rem["payer_id"]) == (
        "SYNTHETIC HEALTH PLAN",
        "XV",
        "SYNPLAN01",
    )
    assert (rem["payer_address_line"], rem["payer_city"], rem["payer_state"], rem["payer_postal_code"]) == (
        "100 SYNTHETIC WAY",
        "ATLANTA",
        "GA",
        "30301",
    )
    assert rem["payer_reference_id"] == "PAYERID01"
    payer = result.transactions[0].payer
    assert payer is not None
    assert payer.address_lines == ("100 SYNTHETIC WAY", "SUITE 1")
    assert [c.function_code for c in payer.contacts] == ["CX", "BL"]
    assert payer.contacts[1].communications == (("TE", "8005550102"), ("EM", "EDI@EXAMPLE.COM"))


def test_payee_loop_npi_tax_id_address_and_rdm():
    result = parse_fixture("header_payer_payee_loops.835")
    rem = result.remittances.row(0, named=True)
    assert (rem["payee_name"], rem["payee_npi"], rem["payee_tax_id"]) == (
        "SYNTHETIC THERAPY GROUP",
        "1999999984",
        "581234567",
    )
    assert (rem["payee_city"], rem["payee_state"]) == ("DECATUR", "GA")
    payee = result.transactions[0].payee
    assert payee is not None and payee.npi == "1999999984"
    assert payee.remittance_delivery_method == ("EM", "REMIT DESK", "REMIT@EXAMPLE.COM")


def test_payee_npi_is_null_when_n103_is_not_xx():
    rem = parse_fixture("version_4010.835").remittances
    assert rem["payee_id_qualifier"].to_list() == ["XX"]
    golden_like = parse_fixture("header_payer_payee_loops.835").summary()["transactions"][0]
    assert golden_like["payee_npi"] == "1999999984"


# ---- LX header number, TS3 / TS2 provider summary ------------------------------------------------
def test_lx_header_number_is_carried_to_its_claims():
    claims = parse_fixture("provider_summary_ts3_ts2.835").claims
    assert claims["header_number"].to_list() == ["110212"]


def test_ts3_and_ts2_are_kept_as_provider_summaries():
    txn = parse_fixture("provider_summary_ts3_ts2.835").transactions[0]
    assert [s.segment_id for s in txn.provider_summaries] == ["TS3", "TS2"]
    assert txn.provider_summaries[0].elements[:4] == ("1999999984", "11", "20241231", "1")


# ---- claim 2100: CLP, CAS, NM1, MIA, MOA, REF, DTM, PER, AMT, QTY ----------------------------
def test_clp_amounts_and_codes():
    claim = parse_fixture("claim_loop_segments.835").claims.row(0, named=True)
    assert claim["patient_control_number"] == "PCN0006"
    assert claim["claim_status_code"] == "2"
    assert (claim["charge_amount"], claim["paid_amount"], claim["patient_responsibility_amount"]) == (
        Decimal("200.00"),
        Decimal("80.00"),
        Decimal("40.00"),
    )
    assert (claim["claim_filing_indicator_code"], claim["payer_claim_control_number"]) == ("12", "ICN0007")
    assert (claim["facility_type_code"], claim["claim_frequency_code"]) == ("11", "1")
    assert claim["is_balanced"] and not claim["is_reversal"] and not claim["is_denied"]


def test_denied_claim_status_4_with_co45_for_the_full_charge():
    result = parse_fixture("denied_claim_co45.835")
    claim = result.claims.row(0, named=True)
    assert claim["claim_status_code"] == "4" and claim["is_denied"]
    assert claim["paid_amount"] == Decimal("0.00")
    adj = result.adjustments.row(0, named=True)
    assert (adj["group_code"], adj["carc_code"], adj["adjustment_amount"]) == ("CO", "45", Decimal("150.00"))
    assert result.remark_codes["rarc_code"].to_list() == ["N130"]
    assert result.remittances["transaction_handling_code"].to_list() == ["H"]


def test_reversal_clp22_keeps_negative_signs_and_balances():
    result = parse_fixture("reversal_clp22.835")
    claims = result.claims
    assert claims["claim_status_code"].to_list() == ["22", "1"]
    assert claims["is_reversal"].to_list() == [True, False]
    assert claims["charge_amount"].to_list() == [Decimal("-150.00"), Decimal("150.00")]
    assert claims["paid_amount"].to_list() == [Decimal("-100.00"), Decimal("120.00")]
    assert claims["original_reference_number"].to_list() == ["ICN0000", "ICN0002"]
    assert result.service_lines["units_paid"].to_list() == [-1.0, 1.0]
    assert result.adjustments["adjustment_amount"].to_list()[:2] == [Decimal("-30.00"), Decimal("-20.00")]
    assert result.summary()["transactions"][0]["reversal_count_clp02_22"] == 1
    assert result.validation.is_valid and len(result.validation) == 0


def test_claim_level_cas_is_separate_from_line_level_cas():
    result = parse_fixture("claim_loop_segments.835")
    adj = result.adjustments
    assert adj["adjustment_level"].to_list() == ["claim", "claim", "service_line"]
    assert adj["service_line_id"].to_list() == [None, None, 31]
    assert adj["claim_id"].to_list() == [10, 10, 10]
    claim = result.claims.row(0, named=True)
    assert (claim["claim_adjustment_amount"], claim["line_adjustment_amount"]) == (
        Decimal("80.00"),
        Decimal("40.00"),
    )
    assert adj["adjustment_quantity"].to_list() == [1.0, None, None]


def test_claim_nm1_entities_feed_provider_and_payer_columns_but_not_patient_names():
    result = parse_fixture("claim_loop_segments.835")
    claim = result.claims.row(0, named=True)
    assert claim["rendering_provider_npi"] == "1234567893"
    assert claim["crossover_carrier_name"] == "SYNTHETIC CROSSOVER PLAN"
    assert claim["corrected_priority_payer_name"] == "SYNTHETIC PRIMARY PLAN"
    flat = str(result.tables)
    assert "SYNTHETICLAST" not in flat and "SYNMEMBER01" not in flat  # minimum necessary PHI
    names = result.transactions[0].claims[0].names
    assert [n.entity_code for n in names] == ["QC", "IL", "74", "82", "TT", "PR"]
    assert names[0].last_or_organization_name == "SYNTHETICLAST"
    assert names[0].identifier == "SYNMEMBER01"


def test_claim_references_dates_contact_amounts_and_quantity():
    result = parse_fixture("claim_loop_segments.835")
    claim = result.claims.row(0, named=True)
    assert (claim["original_reference_number"], claim["prior_authorization_number"]) == (
        "ICN0000",
        "AUTH0001",
    )
    assert (claim["statement_from_date"], claim["statement_to_date"]) == (
        dt.date(2024, 1, 1),
        dt.date(2024, 1, 31),
    )
    assert (claim["claim_received_date"], claim["coverage_expiration_date"]) == (
        dt.date(2024, 1, 15),
        dt.date(2024, 12, 31),
    )
    assert (claim["coverage_amount"], claim["interest_amount"]) == (Decimal("200.00"), Decimal("1.25"))
    record = result.transactions[0].claims[0]
    assert [r.qualifier for r in record.references] == ["F8", "G1", "1L"]
    assert record.contacts[0].communications == (("TE", "8005550100"),)
    assert [(q.qualifier, q.quantity) for q in record.quantities] == [("ZK", Decimal("4"))]
    assert [d.qualifier for d in record.dates] == ["232", "233", "050", "036"]


def test_moa_remark_codes_become_claim_level_rarc_rows():
    result = parse_fixture("claim_loop_segments.835")
    rows = result.remark_codes.select("source_element", "rarc_code", "remark_level", "service_line_id").rows()
    assert rows == [("MOA03", "MA01", "claim", None), ("MOA04", "MA18", "claim", None)]
    assert result.transactions[0].claims[0].outpatient.remark_codes == ("MA01", "MA18")


def test_mia_remark_codes_and_covered_days():
    result = parse_fixture("provider_summary_ts3_ts2.835")
    assert result.remark_codes["rarc_code"].to_list() == ["MA01", "MA18", "MA27"]
    assert result.remark_codes["source_segment"].unique().to_list() == ["MIA"]
    inpatient = result.transactions[0].claims[0].inpatient
    assert inpatient is not None and inpatient.covered_days_or_visits == Decimal("3")


# ---- service line 2110: SVC, DTM, CAS, REF, AMT, QTY, LQ ------------------------------------
def test_svc_composite_procedure_and_telehealth_modifier():
    line = parse_fixture("telehealth_modifiers_svc.835").service_lines.row(0, named=True)
    assert (line["product_qualifier"], line["cpt_code"], line["modifiers"]) == ("HC", "90837", ["95"])
    assert (line["charge_amount"], line["paid_amount"], line["units_paid"]) == (
        Decimal("180.00"),
        Decimal("130.00"),
        1.0,
    )
    assert (line["original_product_qualifier"], line["original_cpt_code"]) == ("HC", "90837")


def test_svc_with_four_modifiers_and_a_description():
    line = parse_fixture("telehealth_modifiers_svc.835").service_lines.row(1, named=True)
    assert line["modifiers"] == ["GT", "HO", "59", "25"]
    assert line["procedure_description"] == "DIAGNOSTIC EVAL"


def test_service_dates_from_dtm_472_or_the_150_151_period():
    lines = parse_fixture("telehealth_modifiers_svc.835").service_lines
    assert lines["service_date"].to_list() == [dt.date(2024, 1, 8), dt.date(2024, 1, 9)]
    assert lines["service_start_date"].to_list() == [dt.date(2024, 1, 8), dt.date(2024, 1, 9)]
    assert lines["service_end_date"].to_list() == [dt.date(2024, 1, 8), dt.date(2024, 1, 10)]


def test_line_item_control_number_allowed_amount_and_patient_share():
    lines = parse_fixture("telehealth_modifiers_svc.835").service_lines
    assert lines["line_item_control_number"].to_list() == ["LINE0005A", "LINE0005B"]
    assert lines["allowed_amount"].to_list() == [Decimal("150.00"), Decimal("190.00")]
    assert lines["patient_responsibility_amount"].to_list() == [Decimal("20.00"), Decimal("10.00")]
    assert lines["adjustment_amount"].to_list() == [Decimal("50.00"), Decimal("60.00")]
    assert lines["is_balanced"].to_list() == [True, True]


def test_lq_remark_code_is_a_service_line_rarc():
    remarks = parse_fixture("telehealth_modifiers_svc.835").remark_codes.row(0, named=True)
    assert (remarks["rarc_code"], remarks["code_list_qualifier"], remarks["remark_level"]) == (
        "M80",
        "HE",
        "service_line",
    )
    assert remarks["service_line_id"] == 12


def test_cas_with_six_triplets_gives_six_rows_in_order():
    adj = parse_fixture("cas_six_triplets.835").adjustments
    assert adj["adjustment_sequence"].to_list() == [1, 2, 3, 4, 5, 6]
    assert adj["carc_code"].to_list() == ["45", "253", "97", "16", "29", "B7"]
    assert adj["group_code"].unique().to_list() == ["CO"]
    assert sum(adj["adjustment_amount"].to_list()) == Decimal("60.00")
    assert adj["segment_position"].unique().to_list() == [14]


def test_service_line_records_keep_dates_refs_amounts_and_remarks():
    line = parse_fixture("telehealth_modifiers_svc.835").transactions[0].claims[0].service_lines[0]
    assert line.procedure.modifiers == ("95",)
    assert line.service_date == dt.date(2024, 1, 8)
    assert [r.value for r in line.references] == ["LINE0005A"]
    assert [a.amount for a in line.amounts] == [Decimal("150")]
    assert [r.code for r in line.remark_codes] == ["M80"]
    assert line.adjustment_total == Decimal("50")


# ---- PLB ---------------------------------------------------------------------------------------
def test_plb_pairs_split_composite_reason_and_reference():
    result = parse_fixture("split_remittance_plb.835")
    plb = result.provider_adjustments
    assert plb.select("reason_code", "reference_id", "adjustment_amount").rows() == [
        ("WO", "ABC123", Decimal("35.00")),
        ("L6", "INT0001", Decimal("-2.50")),
        ("FB", "FWD0001", Decimal("10.00")),
    ]
    assert plb["adjustment_sequence"].to_list() == [1, 2, 3]
    assert plb["fiscal_period_date"].unique().to_list() == [dt.date(2024, 12, 31)]
    assert plb["remittance_id"].unique().to_list() == [16]


def test_split_remittance_balances_each_transaction_with_plb():
    result = parse_fixture("split_remittance_plb.835")
    rem = result.remittances
    assert rem["payment_amount"].to_list() == [Decimal("100.00"), Decimal("157.50")]
    assert rem["provider_adjustment_amount"].to_list() == [Decimal("0.00"), Decimal("42.50")]
    assert rem["is_balanced"].to_list() == [True, True]
    summary = result.summary()
    assert summary["transactions"][1]["plb_amount_sum"] == 42.5
    assert summary["unbalanced_transactions"] == []
    records = result.transactions[1].provider_adjustments
    assert [(p.reason_code, p.reference_id) for p in records] == [
        ("WO", "ABC123"),
        ("L6", "INT0001"),
        ("FB", "FWD0001"),
    ]


def test_dates_before_1970_and_invalid_dates():
    text = fixture_path("claim_loop_segments.835").read_text()
    text = text.replace("DTM*232*20240101", "DTM*232*19650704").replace(
        "DTM*233*20240131", "DTM*233*20230229"
    )
    claim = edi835.parse_bytes(text.encode(), "dates.835").claims.row(0, named=True)
    assert claim["statement_from_date"] == dt.date(1965, 7, 4)
    assert claim["statement_to_date"] is None  # 2023 is not a leap year


def test_plb_with_six_adjustment_pairs():
    text = (
        fixture_path("split_remittance_plb.835")
        .read_text()
        .replace(
            "PLB*1999999984*20241231*WO:ABC123*35*L6:INT0001*-2.5*FB:FWD0001*10",
            "PLB*1999999984*20241231*WO:ABC123*35*L6:INT0001*-2.5*FB:FWD0001*10*CS:ADJ1*1*72*-1*50:LATE*0",
        )
    )
    plb = edi835.parse_bytes(text.encode(), "plb6.835").provider_adjustments
    assert plb["adjustment_sequence"].to_list() == [1, 2, 3, 4, 5, 6]
    assert plb["reason_code"].to_list() == ["WO", "L6", "FB", "CS", "72", "50"]
    assert plb["reference_id"].to_list() == ["ABC123", "INT0001", "FWD0001", "ADJ1", None, "LATE"]
