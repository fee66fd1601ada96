"""Billing records the service layer adds to PRD module 5 (see operational_api/services/billing.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from operational_api.models import Base, ChangeStampMixin, Money


class CreditBalance(ChangeStampMixin, Base):
    """Money received that no charge owes: the part of a manual payment application above the charge's
    balance, kept on the client's (or payer's) account instead of overpaying the charge.

    Only written when the person applying the payment asks for it (`excess_to_credit`), with a reason;
    otherwise an application above the balance is refused (rule payment.exceeds_balance). The charge itself
    never carries more than its amount, so the ERA ledger's overpayment check (era/ledger.py) keeps holding.
    """

    __tablename__ = "credit_balances"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
