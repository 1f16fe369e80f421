"""Posting rules: how a business amount is written to the ledger."""
from decimal import Decimal


def ledger_amount(amount: Decimal) -> Decimal:
    """The amount booked in the journal for a deposit of `amount` (to the cent)."""
    return amount
