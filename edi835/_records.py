"""Typed records built on demand from the segment store.

This is the slow, complete path (plain Python per segment): it keeps every element of every
segment, including ones the flat tables leave out. It reuses the loop context the vectorised pass
computed, so a segment belongs to the same claim or service line in both representations.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import numpy as np

from edi835._frames import (
    KNOWN_CODES,
    SCOPE_CLAIM,
    SCOPE_HEADER,
    SCOPE_LINE,
    SCOPE_LX,
    SCOPE_OTHER_PARTY,
    SCOPE_PAYEE,
    SCOPE_PAYER,
    Frames,
)
from edi835._lexer import Lexed
from edi835._structure import Structure
from edi835.records import (
    Adjustment,
    Claim,
    Contact,
    DateReference,
    EntityName,
    FunctionalGroup,
    InpatientAdjudication,
    Interchange,
    OutpatientAdjudication,
    Party,
    Payment,
    Procedure,
    ProviderAdjustment,
    ProviderSummary,
    Quantity,
    RawSegment,
    Reference,
    RemarkCode,
    Remittance,
    ServiceLine,
    SupplementalAmount,
)

__all__ = ["build_records"]

_KNOWN = set(KNOWN_CODES.tolist())


def _get(el: list[str], k: int) -> str | None:
    try:
        return el[k] or None
    except IndexError:
        return None


def _dec(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        d = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _date(value: str | None) -> dt.date | None:
    if value is None or len(value) != 8 or not value.isdigit():
        return None
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None


class _Builder:
    def __init__(self, lexed: Lexed, frames: Frames) -> None:
        self.lexed = lexed
        self.comp = lexed.component
        assert frames.context is not None
        self.context = frames.context

    def procedure(self, value: str | None) -> Procedure | None:
        if value is None:
            return None
        parts = value.split(self.comp)
        return Procedure(
            qualifier=_get(parts, 0),
            code=_get(parts, 1),
            modifiers=tuple(p for p in parts[2:6] if p),
            description=_get(parts, 6),
        )

    def remittance(self, st: int, se: int, version: str | None) -> Remittance:
        el_of = self.lexed.elements
        codes = self.lexed.codes
        scope = self.context.scope(np.arange(st, se + 1)).tolist()
        bpr: list[str] = []
        trn: list[str] = []
        currency: str | None = None
        refs: list[Reference] = []
        dates: list[DateReference] = []
        parties: dict[str, dict] = {}
        party: dict | None = None
        summaries: list[ProviderSummary] = []
        claims: list[Claim] = []
        claim: dict | None = None
        line: dict | None = None
        header_number: str | None = None
        plbs: list[ProviderAdjustment] = []
        unknown: list[RawSegment] = []
        st_el = el_of(st)
        se_el = el_of(se)

        def close_line() -> None:
            nonlocal line
            if line is not None and claim is not None:
                claim["lines"].append(_freeze_line(line))
            line = None

        def close_claim() -> None:
            nonlocal claim
            close_line()
            if claim is not None:
                claims.append(_freeze_claim(claim))
            claim = None

        for i in range(st + 1, se):
            el = el_of(i)
            sid = el[0]
            pos = i + 1
            sc = scope[i - st]
            if int(codes[i]) not in _KNOWN:
                unknown.append(RawSegment(pos, sid, tuple(el[1:])))
                continue
            target = line if sc == SCOPE_LINE else claim if sc == SCOPE_CLAIM else None
            in_party = party is not None and sc in (SCOPE_PAYER, SCOPE_PAYEE, SCOPE_OTHER_PARTY)
            if sid == "BPR" and not bpr:
                bpr = el
            elif sid == "TRN" and sc == SCOPE_HEADER and not trn:
                trn = el
            elif sid == "CUR" and sc == SCOPE_HEADER:
                currency = _get(el, 2)
            elif sid == "N1":
                party = {
                    "pos": pos, "el": el, "names": [], "address": [], "n4": [], "refs": [], "contacts": [],
                    "rdm": (),
                }  # fmt: skip
                if sc in (SCOPE_PAYER, SCOPE_PAYEE) and (_get(el, 1) or "") not in parties:
                    parties[_get(el, 1) or ""] = party
            elif sid == "N2" and in_party:
                party["names"].append(tuple(el[1:]))
            elif sid == "N3" and in_party:
                party["address"].extend(v for v in el[1:3] if v)
            elif sid == "N4" and in_party:
                party["n4"] = el
            elif sid == "RDM" and in_party:
                party["rdm"] = tuple(el[1:])
            elif sid == "LX":
                close_claim()
                header_number = _get(el, 1)
            elif sid in ("TS3", "TS2") and sc == SCOPE_LX:
                summaries.append(ProviderSummary(pos, sid, tuple(el[1:])))
            elif sid == "CLP":
                close_claim()
                claim = {
                    "pos": pos, "el": el, "lx": header_number, "cas": [], "names": [], "mia": None, "moa": None,
                    "refs": [], "dates": [], "contacts": [], "amounts": [], "qty": [], "lines": [], "remarks": [],
                }  # fmt: skip
            elif sid == "SVC" and claim is not None:
                close_line()
                line = {
                    "pos": pos, "el": el, "proc": self.procedure(_get(el, 1)), "orig": self.procedure(_get(el, 6)),
                    "dates": [], "cas": [], "refs": [], "amounts": [], "qty": [], "remarks": [],
                }  # fmt: skip
            elif sid == "CAS" and target is not None:
                level = "service_line" if target is line else "claim"
                for k in range(6):
                    reason, amount, qty = _get(el, 2 + 3 * k), _get(el, 3 + 3 * k), _get(el, 4 + 3 * k)
                    if k == 0 or reason is not None or amount is not None:
                        target["cas"].append(
                            Adjustment(pos, k + 1, level, _get(el, 1), reason, _dec(amount), _dec(qty))
                        )
            elif sid == "NM1" and claim is not None and sc == SCOPE_CLAIM:
                claim["names"].append(
                    EntityName(
                        pos,
                        _get(el, 1),
                        _get(el, 2),
                        _get(el, 3),
                        _get(el, 4),
                        _get(el, 5),
                        _get(el, 7),
                        _get(el, 8),
                        _get(el, 9),
                    )  # fmt: skip
                )
            elif sid == "MIA" and claim is not None and sc == SCOPE_CLAIM:
                claim["mia"] = InpatientAdjudication(pos, _dec(_get(el, 1)), tuple(el[1:]))
                for k in (5, 20, 21, 22, 23):
                    if _get(el, k):
                        claim["remarks"].append(RemarkCode(pos, "MIA", f"MIA{k:02d}", "HE", el[k]))
            elif sid == "MOA" and claim is not None and sc == SCOPE_CLAIM:
                codes_ = tuple(el[k] for k in range(3, 8) if _get(el, k))
                claim["moa"] = OutpatientAdjudication(
                    pos, _dec(_get(el, 1)), _dec(_get(el, 2)), _dec(_get(el, 8)), _dec(_get(el, 9)), codes_
                )
                for k in range(3, 8):
                    if _get(el, k):
                        claim["remarks"].append(RemarkCode(pos, "MOA", f"MOA{k:02d}", "HE", el[k]))
            elif sid == "LQ" and line is not None and sc == SCOPE_LINE:
                if _get(el, 2):
                    line["remarks"].append(RemarkCode(pos, "LQ", "LQ02", _get(el, 1), el[2]))
            elif sid == "REF" and (target is not None or in_party or sc == SCOPE_HEADER):
                ref = Reference(pos, _get(el, 1), _get(el, 2))
                (target["refs"] if target is not None else party["refs"] if in_party else refs).append(ref)
            elif sid == "DTM" and (target is not None or sc == SCOPE_HEADER):
                date = DateReference(pos, _get(el, 1), _date(_get(el, 2)))
                (target["dates"] if target is not None else dates).append(date)
            elif sid == "PER" and ((claim is not None and sc == SCOPE_CLAIM) or in_party):
                contact = Contact(
                    pos,
                    _get(el, 1),
                    _get(el, 2),
                    tuple((el[k], el[k + 1]) for k in (3, 5, 7) if _get(el, k) and _get(el, k + 1)),
                )
                (party["contacts"] if in_party else claim["contacts"]).append(contact)
            elif sid == "AMT" and target is not None:
                target["amounts"].append(SupplementalAmount(pos, _get(el, 1), _dec(_get(el, 2))))
            elif sid == "QTY" and target is not None:
                target["qty"].append(Quantity(pos, _get(el, 1), _dec(_get(el, 2))))
            elif sid == "PLB":
                close_claim()
                for k in range(6):
                    composite, amount = _get(el, 3 + 2 * k), _get(el, 4 + 2 * k)
                    if composite is None and amount is None:
                        continue
                    parts = (composite or "").split(self.comp)
                    plbs.append(
                        ProviderAdjustment(
                            pos,
                            k + 1,
                            _get(el, 1),
                            _date(_get(el, 2)),
                            _get(parts, 0),
                            _get(parts, 1),
                            _dec(amount),
                        )
                    )
            else:
                # Known segment in a place the guide does not allow (reported as a warning by the
                # structure pass): kept verbatim rather than dropped.
                unknown.append(RawSegment(pos, sid, tuple(el[1:])))
        close_claim()

        payment = Payment(
            transaction_handling_code=_get(bpr, 1),
            amount=_dec(_get(bpr, 2)),
            credit_debit_flag=_get(bpr, 3),
            payment_method_code=_get(bpr, 4),
            payment_format_code=_get(bpr, 5),
            payment_date=_date(_get(bpr, 16)),
            trace_type_code=_get(trn, 1),
            trace_number=_get(trn, 2),
            originating_company_id=_get(trn, 3),
        )
        return Remittance(
            segment_position=st + 1,
            transaction_set_control_number=_get(st_el, 2),
            implementation_convention=_get(st_el, 3),
            version=version,
            payment=payment,
            currency_code=currency,
            references=tuple(refs),
            dates=tuple(dates),
            payer=_freeze_party(parties.get("PR")),
            payee=_freeze_party(parties.get("PE")),
            provider_summaries=tuple(summaries),
            claims=tuple(claims),
            provider_adjustments=tuple(plbs),
            unknown_segments=tuple(unknown),
            segment_count=se - st + 1,
            declared_segment_count=_get(se_el, 1),
        )


def _freeze_party(p: dict | None) -> Party | None:
    if p is None:
        return None
    el, n4 = p["el"], p["n4"]
    return Party(
        segment_position=p["pos"],
        entity_code=_get(el, 1),
        name=_get(el, 2),
        id_qualifier=_get(el, 3),
        identifier=_get(el, 4),
        address_lines=tuple(p["address"]),
        city=_get(n4, 1),
        state=_get(n4, 2),
        postal_code=_get(n4, 3),
        country_code=_get(n4, 4),
        references=tuple(p["refs"]),
        contacts=tuple(p["contacts"]),
        remittance_delivery_method=p["rdm"],
        additional_names=tuple(p["names"]),
    )


def _freeze_line(d: dict) -> ServiceLine:
    el = d["el"]
    return ServiceLine(
        segment_position=d["pos"],
        procedure=d["proc"] or Procedure(None, None, (), None),
        charge_amount=_dec(_get(el, 2)),
        paid_amount=_dec(_get(el, 3)),
        revenue_code=_get(el, 4),
        units_paid=_dec(_get(el, 5)),
        original_procedure=d["orig"],
        original_units=_dec(_get(el, 7)),
        dates=tuple(d["dates"]),
        adjustments=tuple(d["cas"]),
        references=tuple(d["refs"]),
        amounts=tuple(d["amounts"]),
        quantities=tuple(d["qty"]),
        remark_codes=tuple(d["remarks"]),
    )


def _freeze_claim(d: dict) -> Claim:
    el = d["el"]
    return Claim(
        segment_position=d["pos"],
        header_number=d["lx"],
        patient_control_number=_get(el, 1),
        status_code=_get(el, 2),
        charge_amount=_dec(_get(el, 3)),
        paid_amount=_dec(_get(el, 4)),
        patient_responsibility_amount=_dec(_get(el, 5)),
        filing_indicator_code=_get(el, 6),
        payer_claim_control_number=_get(el, 7),
        facility_type_code=_get(el, 8),
        frequency_code=_get(el, 9),
        drg_code=_get(el, 11),
        drg_weight=_dec(_get(el, 12)),
        discharge_fraction=_dec(_get(el, 13)),
        adjustments=tuple(d["cas"]),
        names=tuple(d["names"]),
        inpatient=d["mia"],
        outpatient=d["moa"],
        references=tuple(d["refs"]),
        dates=tuple(d["dates"]),
        contacts=tuple(d["contacts"]),
        amounts=tuple(d["amounts"]),
        quantities=tuple(d["qty"]),
        service_lines=tuple(d["lines"]),
        remark_codes=tuple(d["remarks"]),
    )


def build_records(
    lexed: Lexed, frames: Frames, structure: Structure
) -> tuple[list[Interchange], list[Remittance]]:
    """All transactions in file order, plus the interchange -> group -> transaction tree."""
    builder = _Builder(lexed, frames)
    el_of = lexed.elements
    group_version = [_get(el_of(int(g)), 8) for g in structure.group_gs]
    remittances = []
    for t, (st, se) in enumerate(zip(structure.st_idx.tolist(), structure.se_idx.tolist(), strict=True)):
        g = int(structure.txn_group[t])
        remittances.append(builder.remittance(st, se, group_version[g] if g >= 0 else None))

    by_group: dict[int, list[Remittance]] = {}
    for t, rem in enumerate(remittances):
        by_group.setdefault(int(structure.txn_group[t]), []).append(rem)
    groups_of: dict[int, list[FunctionalGroup]] = {}
    for g, gs in enumerate(structure.group_gs.tolist()):
        el = el_of(gs)
        group = FunctionalGroup(
            segment_position=gs + 1,
            functional_id_code=_get(el, 1),
            sender_code=_get(el, 2),
            receiver_code=_get(el, 3),
            date=_get(el, 4),
            time=_get(el, 5),
            control_number=_get(el, 6),
            version=_get(el, 8),
            transactions=tuple(by_group.get(g, [])),
        )
        groups_of.setdefault(int(structure.group_isa[g]), []).append(group)
    interchanges = []
    for k, (isa, declared) in enumerate(zip(lexed.isa_idx.tolist(), lexed.isa_delimiters, strict=True)):
        el = el_of(isa)
        interchanges.append(
            Interchange(
                segment_position=isa + 1,
                sender_id_qualifier=_get(el, 5),
                sender_id=(_get(el, 6) or "").rstrip() or None,
                receiver_id_qualifier=_get(el, 7),
                receiver_id=(_get(el, 8) or "").rstrip() or None,
                date=_get(el, 9),
                time=_get(el, 10),
                version=_get(el, 12),
                control_number=_get(el, 13),
                usage_indicator=_get(el, 15),
                delimiters=declared,
                groups=tuple(groups_of.get(k, [])),
            )
        )
    return interchanges, remittances
