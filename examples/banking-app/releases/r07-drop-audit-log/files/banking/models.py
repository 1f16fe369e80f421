"""Models of the demo bank. Financial tables have explicit db_table names so that
Steward's configuration can list them as protected tables."""
from decimal import Decimal

from django.conf import settings
from django.db import models


class Tenant(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        db_table = "bank_tenant"
        ordering = ["slug"]

    def __str__(self):
        return self.slug


class Role(models.TextChoices):
    MAKER = "maker", "Maker"
    CHECKER = "checker", "Checker"
    TELLER = "teller", "Teller"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Admin"


class Membership(models.Model):
    """A user belongs to exactly one tenant and has one role in it."""
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="members")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        db_table = "bank_membership"

    def __str__(self):
        return f"{self.user.username}@{self.tenant.slug} ({self.role})"


class AccountType(models.TextChoices):
    ASSET = "asset", "Asset"
    LIABILITY = "liability", "Liability"
    EQUITY = "equity", "Equity"
    INCOME = "income", "Income"
    EXPENSE = "expense", "Expense"


class Account(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="accounts")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=160)
    type = models.CharField(max_length=16, choices=AccountType.choices)
    is_customer = models.BooleanField(default=False)
    opened_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "fin_account"
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="fin_account_tenant_code_uniq")]

    def __str__(self):
        return f"{self.code} {self.name}"


class EntrySource(models.TextChoices):
    MANUAL = "manual", "Manual journal"
    DEPOSIT = "deposit", "Deposit posting"
    PAYMENT = "payment", "Approved payment"
    SEED = "seed", "Opening balance"


class JournalEntry(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="journal_entries")
    reference = models.CharField(max_length=64)
    description = models.CharField(max_length=255)
    source = models.CharField(max_length=16, choices=EntrySource.choices, default=EntrySource.MANUAL)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    posted_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "fin_journal_entry"
        ordering = ["-posted_at", "-id"]
        indexes = [models.Index(fields=["tenant", "source"], name="fin_je_tenant_source_idx")]

    def __str__(self):
        return f"JE-{self.pk} {self.reference}"


class JournalLine(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines")
    debit = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0.00"))
    credit = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        db_table = "fin_journal_line"
        constraints = [
            models.CheckConstraint(condition=models.Q(debit__gte=0) & models.Q(credit__gte=0), name="fin_jl_non_negative"),
            models.CheckConstraint(
                condition=(models.Q(debit=0) & models.Q(credit__gt=0)) | (models.Q(debit__gt=0) & models.Q(credit=0)),
                name="fin_jl_one_side",
            ),
        ]


class DepositChannel(models.TextChoices):
    BRANCH = "branch", "Branch"
    ONLINE = "online", "Online"
    ATM = "atm", "ATM"


class Deposit(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="deposits")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="deposits")
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    reference = models.CharField(max_length=64, blank=True)
    # r03: where the deposit was taken (null for deposits made before r03)
    channel = models.CharField(max_length=16, null=True, blank=True, choices=DepositChannel.choices)
    journal_entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="deposit")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "fin_deposit"
        ordering = ["-created_at", "-id"]


class LoanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    REPAID = "repaid", "Repaid"
    DEFAULTED = "defaulted", "Defaulted"


class Loan(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="loans")
    borrower = models.CharField(max_length=160)
    principal = models.DecimalField(max_digits=18, decimal_places=2)
    outstanding = models.DecimalField(max_digits=18, decimal_places=2)
    annual_rate = models.DecimalField(max_digits=6, decimal_places=3)
    term_months = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=LoanStatus.choices, default=LoanStatus.ACTIVE)
    opened_on = models.DateField()
    # Reference from the bank's previous core system; dropped in release r06.
    legacy_reference = models.CharField(max_length=40, null=True, blank=True)

    class Meta:
        db_table = "fin_loan"
        ordering = ["-opened_on", "-id"]


class RequestKind(models.TextChoices):
    PAYMENT = "payment", "Payment"
    TRANSFER = "transfer", "Transfer"


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PaymentRequest(models.Model):
    """A maker's payment/transfer request; a different user (a checker) decides it."""
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="payment_requests")
    kind = models.CharField(max_length=16, choices=RequestKind.choices, default=RequestKind.TRANSFER)
    from_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    to_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    memo = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    maker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    checker = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    journal_entry = models.OneToOneField(JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        db_table = "fin_payment_request"
        ordering = ["-created_at", "-id"]


class FeatureFlag(models.Model):
    """Module switches (posting, payments, loans) and maintenance mode."""
    name = models.CharField(max_length=40, unique=True)
    enabled = models.BooleanField(default=True)
    reason = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True)

    class Meta:
        db_table = "ops_feature_flag"
        ordering = ["name"]
