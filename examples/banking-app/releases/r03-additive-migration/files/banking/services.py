"""Business operations: postings, maker-checker, flags, invariants."""
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from banking import audit
from banking.posting_rules import ledger_amount
from banking.models import (Account, AccountType, Deposit, DepositChannel, EntrySource, FeatureFlag, JournalEntry, JournalLine,
                            Loan, LoanStatus, PaymentRequest, RequestStatus, Role, Tenant)

CENT = Decimal("0.01")
MODULE_FLAGS = ("posting", "payments", "loans")
MAINTENANCE = "maintenance"
ALL_FLAGS = MODULE_FLAGS + (MAINTENANCE,)
CASH_ACCOUNT_CODE = "1000"

POSTING_ROLES = {Role.TELLER, Role.MAKER, Role.ADMIN}
JOURNAL_ROLES = {Role.MAKER, Role.ADMIN}
MAKER_ROLES = {Role.MAKER, Role.ADMIN}
CHECKER_ROLES = {Role.CHECKER, Role.ADMIN}


class ModuleDisabled(Exception):
    def __init__(self, flag, reason=""):
        self.flag, self.reason = flag, reason
        super().__init__(f"The {flag} module is disabled" + (f": {reason}" if reason else ""))


def flag_enabled(name):
    """Module flags default to on; maintenance defaults to off."""
    row = FeatureFlag.objects.filter(name=name).values_list("enabled", flat=True).first()
    if row is None:
        return name != MAINTENANCE
    return row


def require_flag(name):
    if not flag_enabled(name):
        reason = FeatureFlag.objects.filter(name=name).values_list("reason", flat=True).first() or ""
        raise ModuleDisabled(name, reason)


def set_flag(name, enabled, reason="", actor="manage.py"):
    if name not in ALL_FLAGS:
        raise ValueError(f"unknown flag {name!r}; known: {', '.join(ALL_FLAGS)}")
    with transaction.atomic():
        flag, _ = FeatureFlag.objects.select_for_update().get_or_create(
            name=name, defaults={"enabled": name != MAINTENANCE})
        before = flag.enabled
        flag.enabled, flag.reason, flag.updated_by = enabled, reason, actor
        flag.save()
        audit.record("feature_flag.set", actor=actor, obj=flag, object_id=name,
                     flag=name, before=before, after=enabled, reason=reason)
    return flag


def parse_amount(value, field="amount"):
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({field: f"{value!r} is not a decimal amount"})
    if not amount.is_finite() or amount != amount.quantize(CENT):
        raise ValidationError({field: "amounts have at most 2 decimal places"})
    if amount < 0:
        raise ValidationError({field: "amounts cannot be negative"})
    return amount.quantize(CENT)


def _entry(tenant, reference, description, source, user, lines):
    entry = JournalEntry.objects.create(tenant=tenant, reference=reference[:64], description=description[:255],
                                        source=source, created_by=user)
    JournalLine.objects.bulk_create([
        JournalLine(entry=entry, tenant=tenant, account=acc, debit=dr, credit=cr) for acc, dr, cr in lines
    ])
    return entry


def post_deposit(tenant, account, amount, reference, user, channel=None):
    require_flag("posting")
    if account.tenant_id != tenant.id or not account.is_customer:
        raise ValidationError({"account": "not a customer account of this tenant"})
    amount = parse_amount(amount)
    if amount <= 0:
        raise ValidationError({"amount": "a deposit must be positive"})
    if channel and channel not in DepositChannel.values:
        raise ValidationError({"channel": f"unknown channel {channel!r}"})
    with transaction.atomic():
        cash = Account.objects.get(tenant=tenant, code=CASH_ACCOUNT_CODE)
        booked = ledger_amount(amount)
        entry = _entry(tenant, reference or f"DEP-{account.code}", f"Deposit to {account.code}",
                       EntrySource.DEPOSIT, user, [(cash, booked, Decimal("0")), (account, Decimal("0"), booked)])
        deposit = Deposit.objects.create(tenant=tenant, account=account, amount=amount, reference=reference[:64],
                                         channel=channel or None, journal_entry=entry, created_by=user)
        audit.record("deposit.posted", tenant=tenant, actor=user, obj=deposit, amount=str(amount),
                     account=account.code, journal_entry=entry.pk)
    return deposit


def post_journal(tenant, description, raw_lines, user):
    """raw_lines: iterable of (account_code, debit, credit) strings. Must balance."""
    require_flag("posting")
    lines, errors = [], []
    accounts = {a.code: a for a in Account.objects.filter(tenant=tenant)}
    for i, (code, dr, cr) in enumerate(raw_lines):
        code, dr, cr = (code or "").strip(), (dr or "").strip(), (cr or "").strip()
        if not code and not dr and not cr:
            continue
        acc = accounts.get(code)
        if acc is None:
            errors.append(f"line {i + 1}: unknown account {code!r}")
            continue
        try:
            d = parse_amount(dr or "0", "debit")
            c = parse_amount(cr or "0", "credit")
        except ValidationError as exc:
            errors.append(f"line {i + 1}: {'; '.join(exc.messages)}")
            continue
        if (d > 0) == (c > 0):
            errors.append(f"line {i + 1}: exactly one of debit or credit must be positive")
            continue
        lines.append((acc, d, c))
    if not errors and len(lines) < 2:
        errors.append("a journal entry needs at least two lines")
    if errors:
        raise ValidationError(errors)
    total_dr = sum(line[1] for line in lines)
    total_cr = sum(line[2] for line in lines)
    if total_dr != total_cr:
        raise ValidationError(f"unbalanced entry: debits {total_dr} != credits {total_cr}", code="unbalanced")
    with transaction.atomic():
        entry = _entry(tenant, f"MJ-{timezone.now():%Y%m%d%H%M%S}", description or "Manual journal",
                       EntrySource.MANUAL, user, lines)
        audit.record("journal.posted", tenant=tenant, actor=user, obj=entry, total=str(total_dr),
                     lines=len(lines))
    return entry


def create_payment_request(tenant, kind, from_code, to_code, amount, memo, user):
    require_flag("payments")
    accounts = {a.code: a for a in Account.objects.filter(tenant=tenant, code__in=[from_code, to_code])}
    if from_code not in accounts or to_code not in accounts:
        raise ValidationError("unknown account for this tenant")
    if from_code == to_code:
        raise ValidationError("from and to accounts must differ")
    amount = parse_amount(amount)
    if amount <= 0:
        raise ValidationError({"amount": "must be positive"})
    with transaction.atomic():
        req = PaymentRequest.objects.create(tenant=tenant, kind=kind, from_account=accounts[from_code],
                                            to_account=accounts[to_code], amount=amount, memo=memo[:255], maker=user)
        audit.record("approval.requested", tenant=tenant, actor=user, obj=req, amount=str(amount), kind=kind)
    return req


def decide_payment_request(req, user, role, approve):
    """Maker-checker: only a checker (or admin) who is not the maker may decide."""
    require_flag("payments")
    if role not in CHECKER_ROLES:
        raise PermissionDenied("only a checker may decide a request")
    if req.maker_id == user.pk:
        audit.record("approval.self_approval_refused", tenant=req.tenant, actor=user, obj=req)
        raise PermissionDenied("maker-checker: you cannot decide your own request")
    with transaction.atomic():
        req = PaymentRequest.objects.select_for_update().get(pk=req.pk)
        if req.status != RequestStatus.PENDING:
            raise ValidationError(f"request is already {req.status}")
        req.checker, req.decided_at = user, timezone.now()
        if approve:
            req.journal_entry = _entry(req.tenant, f"PAY-{req.pk}", f"{req.kind} {req.from_account.code} -> "
                                       f"{req.to_account.code}", EntrySource.PAYMENT, user,
                                       [(req.from_account, req.amount, Decimal("0")),
                                        (req.to_account, Decimal("0"), req.amount)])
            req.status = RequestStatus.APPROVED
        else:
            req.status = RequestStatus.REJECTED
        req.save()
        audit.record(f"approval.{req.status}", tenant=req.tenant, actor=user, obj=req, maker=req.maker.username)
    return req


def _money(value):
    return str((value or Decimal("0")).quantize(CENT))


def tenant_invariants(tenant):
    lines = JournalLine.objects.filter(tenant=tenant).aggregate(dr=Sum("debit"), cr=Sum("credit"))
    total_deposits = Deposit.objects.filter(tenant=tenant).aggregate(s=Sum("amount"))["s"] or Decimal("0")
    ledger = JournalLine.objects.filter(tenant=tenant, entry__source=EntrySource.DEPOSIT,
                                        account__is_customer=True).aggregate(s=Sum("credit"))["s"] or Decimal("0")
    loan_book = Loan.objects.filter(tenant=tenant, status=LoanStatus.ACTIVE).aggregate(s=Sum("outstanding"))["s"]
    return {
        "debits_minus_credits": _money((lines["dr"] or Decimal("0")) - (lines["cr"] or Decimal("0"))),
        "journal_entries": JournalEntry.objects.filter(tenant=tenant).count(),
        "deposits": Deposit.objects.filter(tenant=tenant).count(),
        "total_deposits": _money(total_deposits),
        "deposit_ledger": _money(ledger),
        "deposits_minus_ledger": _money(total_deposits - ledger),
        "loan_book": _money(loan_book),
        "active_loans": Loan.objects.filter(tenant=tenant, status=LoanStatus.ACTIVE).count(),
        "pending_approvals": PaymentRequest.objects.filter(tenant=tenant, status=RequestStatus.PENDING).count(),
    }


def trial_balance(tenant):
    rows = (JournalLine.objects.filter(tenant=tenant).values("account__code", "account__name", "account__type")
            .annotate(dr=Sum("debit"), cr=Sum("credit")).order_by("account__code"))
    out, total_dr, total_cr = [], Decimal("0"), Decimal("0")
    for r in rows:
        net = (r["dr"] or 0) - (r["cr"] or 0)
        d, c = (net, Decimal("0")) if net >= 0 else (Decimal("0"), -net)
        total_dr += d
        total_cr += c
        out.append({"code": r["account__code"], "name": r["account__name"], "type": r["account__type"],
                    "debit": d, "credit": c})
    return out, total_dr, total_cr


def dashboard_summary(tenant):
    inv = tenant_invariants(tenant)
    return {
        "customer_accounts": Account.objects.filter(tenant=tenant, is_customer=True).count(),
        "journal_entries": inv["journal_entries"],
        "total_deposits": inv["total_deposits"],
        "loan_book": inv["loan_book"],
        "active_loans": inv["active_loans"],
        "pending_approvals": inv["pending_approvals"],
        "balanced": inv["debits_minus_credits"] == "0.00",
    }


def all_invariants():
    return {t.slug: tenant_invariants(t) for t in Tenant.objects.all()}


__all__ = ["AccountType", "Q"]
