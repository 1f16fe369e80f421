"""Posting rules: how a business amount is written to the ledger."""
from decimal import Decimal


def ledger_amount(amount: Decimal) -> Decimal:
    """The amount booked in the journal for a deposit of `amount`.

    The core-banking export wants whole currency units, so round here."""
    return amount.quantize(Decimal("1"))
