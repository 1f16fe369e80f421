"""Load realistic demo data (idempotent-ish) and the demo users.

  python manage.py seed_bank [--tenants acme,globex,smoke] [--accounts N] [--size-mb M]
                             [--password-file F]   (or env BANKAPP_DEMO_PASSWORD)

Users <tenant>-maker, -checker, -teller, -auditor, -admin get the one demo password;
no password is ever built into the code. Without a password, users are created with an
unusable password (existing users keep theirs).
"""
import datetime as dt
import json
import os
import random
import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from banking import audit
from banking.models import (Account, AccountType, Deposit, EntrySource, JournalEntry, JournalLine, Loan,
                            LoanStatus, Membership, Role, Tenant)
from banking.services import ALL_FLAGS, CASH_ACCOUNT_CODE, MAINTENANCE
from banking.models import FeatureFlag

TENANT_NAMES = {"acme": "Acme Savings Bank", "globex": "Globex Credit Union", "smoke": "Smoke Test Tenant",
                "initech": "Initech Mutual"}
LEDGER = [("1000", "Cash at bank", AccountType.ASSET), ("1100", "Loans receivable", AccountType.ASSET),
          ("3000", "Share capital", AccountType.EQUITY), ("4000", "Interest income", AccountType.INCOME),
          ("5000", "Operating expenses", AccountType.EXPENSE)]
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "John", "Radia",
         "Tim", "Karen", "Dennis", "Hedy", "Linus", "Sophie", "Niklaus", "Shafi", "Leslie"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen",
        "McCarthy", "Perlman", "Berners-Lee", "Sparck Jones", "Ritchie", "Lamarr", "Torvalds", "Wilson", "Wirth",
        "Goldwasser", "Lamport"]
ROLES = [Role.MAKER, Role.CHECKER, Role.TELLER, Role.AUDITOR, Role.ADMIN]
BATCH = 2000


def _name(rng):
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _amount(rng, lo, hi):
    return Decimal(rng.randrange(lo * 100, hi * 100)) / 100


class Command(BaseCommand):
    help = "Seed demo tenants, users, accounts, deposits, loans and journal entries."

    def add_arguments(self, parser):
        parser.add_argument("--tenants", default="acme,globex,smoke")
        parser.add_argument("--accounts", type=int, default=20, help="customer accounts per tenant")
        parser.add_argument("--loans", type=int, default=10, help="loans per tenant")
        parser.add_argument("--size-mb", type=int, default=0, help="grow the database to about this size")
        parser.add_argument("--password-file", help="file holding the one demo-user password")
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, **opts):
        password = self._password(opts["password_file"])
        slugs = [s.strip() for s in opts["tenants"].split(",") if s.strip()]
        rng = random.Random(opts["seed"])
        summary = {}
        for name in ALL_FLAGS:
            FeatureFlag.objects.get_or_create(name=name, defaults={"enabled": name != MAINTENANCE})
        for slug in slugs:
            with transaction.atomic():
                tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": TENANT_NAMES.get(slug, slug.title())})
                self._users(tenant, password)
                accounts = self._accounts(tenant, opts["accounts"])
                created = self._opening(tenant, accounts, opts["loans"], rng)
            summary[slug] = {"customer_accounts": len(accounts), "base_data_created": created}
        if opts["size_mb"]:
            summary["_size"] = self._grow([s for s in slugs if s != "smoke"] or slugs, opts["size_mb"], rng)
        audit.record("seed_bank.run", actor="seed_bank", tenants=slugs, size_mb=opts["size_mb"])
        self.stdout.write(json.dumps({"seeded": summary, "database_mb": self._db_mb()}))

    def _password(self, path):
        if path:
            try:
                with open(path, encoding="utf-8") as fh:
                    pw = fh.readline().rstrip("\r\n")
            except OSError as exc:
                raise CommandError(f"cannot read --password-file: {exc}")
            if not pw:
                raise CommandError("--password-file is empty")
            return pw
        pw = os.environ.get("BANKAPP_DEMO_PASSWORD")
        if not pw:
            self.stderr.write("warning: no --password-file or BANKAPP_DEMO_PASSWORD; new demo users get an "
                              "unusable password")
        return pw or None

    def _users(self, tenant, password):
        User = get_user_model()
        for role in ROLES:
            user, created = User.objects.get_or_create(username=f"{tenant.slug}-{role}")
            if password:
                user.set_password(password)
                user.save()
            elif created:
                user.set_unusable_password()
                user.save()
            Membership.objects.update_or_create(user=user, defaults={"tenant": tenant, "role": role})

    def _accounts(self, tenant, n):
        for code, name, typ in LEDGER:
            Account.objects.get_or_create(tenant=tenant, code=code, defaults={"name": name, "type": typ})
        existing = set(Account.objects.filter(tenant=tenant, is_customer=True).values_list("code", flat=True))
        rng = random.Random(f"{tenant.slug}-accounts")
        new = [Account(tenant=tenant, code=f"2000-{i:04d}", name=f"Deposit account of {_name(rng)}",
                       type=AccountType.LIABILITY, is_customer=True)
               for i in range(1, n + 1) if f"2000-{i:04d}" not in existing]
        Account.objects.bulk_create(new)
        return list(Account.objects.filter(tenant=tenant, is_customer=True).order_by("code"))

    def _entry_with_lines(self, tenant, reference, description, source, lines):
        e = JournalEntry.objects.create(tenant=tenant, reference=reference, description=description, source=source)
        JournalLine.objects.bulk_create([JournalLine(entry=e, tenant=tenant, account=a, debit=d, credit=c)
                                         for a, d, c in lines])
        return e

    def _opening(self, tenant, accounts, n_loans, rng):
        if JournalEntry.objects.filter(tenant=tenant, source=EntrySource.SEED).exists():
            return False
        acc = {a.code: a for a in Account.objects.filter(tenant=tenant, is_customer=False)}
        zero = Decimal("0")
        capital = Decimal("5000000.00")
        self._entry_with_lines(tenant, "OPEN-CAPITAL", "Opening share capital", EntrySource.SEED,
                               [(acc[CASH_ACCOUNT_CODE], capital, zero), (acc["3000"], zero, capital)])
        today = dt.date.today()
        # legacy_reference (the previous core system's id) is dropped in release r06
        has_legacy = any(f.name == "legacy_reference" for f in Loan._meta.get_fields())
        loans = []
        for i in range(n_loans):
            principal = _amount(rng, 5000, 250000).quantize(Decimal("1"))
            paid = (principal * Decimal(rng.randrange(0, 60)) / 100).quantize(Decimal("0.01"))
            extra = {"legacy_reference": f"CORE-{tenant.slug[:3].upper()}-{rng.randrange(10**6):06d}"} if has_legacy else {}
            loans.append(Loan(tenant=tenant, borrower=_name(rng), principal=principal, outstanding=principal - paid,
                              annual_rate=Decimal(rng.randrange(250, 1200)) / 100,
                              term_months=rng.choice([12, 24, 36, 60, 120]),
                              status=LoanStatus.ACTIVE if i % 7 else LoanStatus.REPAID,
                              opened_on=today - dt.timedelta(days=rng.randrange(30, 2000)), **extra))
        Loan.objects.bulk_create(loans)
        book = sum((l.outstanding for l in loans if l.status == LoanStatus.ACTIVE), zero)
        if book:
            self._entry_with_lines(tenant, "OPEN-LOANS", "Opening loan book", EntrySource.SEED,
                                   [(acc["1100"], book, zero), (acc[CASH_ACCOUNT_CODE], zero, book)])
        self._deposits(tenant, accounts, 3 * len(accounts), rng)
        return True

    def _deposits(self, tenant, accounts, count, rng):
        """Bulk-post `count` deposits (deposit row + balanced journal entry each)."""
        cash = Account.objects.get(tenant=tenant, code=CASH_ACCOUNT_CODE)
        zero = Decimal("0")
        done = 0
        while done < count:
            n = min(BATCH, count - done)
            with transaction.atomic():
                picks = [(rng.choice(accounts), _amount(rng, 10, 5000)) for _ in range(n)]
                entries = JournalEntry.objects.bulk_create([
                    JournalEntry(tenant=tenant, reference=f"DEP-{a.code}", description=f"Deposit to {a.code}",
                                 source=EntrySource.DEPOSIT) for a, _ in picks])
                lines, deposits = [], []
                for e, (a, amt) in zip(entries, picks):
                    lines.append(JournalLine(entry=e, tenant=tenant, account=cash, debit=amt, credit=zero))
                    lines.append(JournalLine(entry=e, tenant=tenant, account=a, debit=zero, credit=amt))
                    deposits.append(Deposit(tenant=tenant, account=a, amount=amt, reference=f"SEED-{e.pk}",
                                            journal_entry=e))
                JournalLine.objects.bulk_create(lines, batch_size=BATCH)
                Deposit.objects.bulk_create(deposits, batch_size=BATCH)
            done += n
        return done

    def _db_mb(self):
        with connection.cursor() as cur:
            cur.execute("SELECT pg_database_size(current_database())")
            return round(cur.fetchone()[0] / 1024 / 1024, 1)

    def _grow(self, slugs, target_mb, rng):
        tenants = list(Tenant.objects.filter(slug__in=slugs))
        accounts = {t.pk: list(Account.objects.filter(tenant=t, is_customer=True)) for t in tenants}
        start, added = time.monotonic(), 0
        while self._db_mb() < target_mb:
            for t in tenants:
                added += self._deposits(t, accounts[t.pk], BATCH * 5, rng)
            self.stderr.write(f"seed_bank: {self._db_mb()} MB of {target_mb} MB, {added} deposits added")
        return {"deposits_added": added, "seconds": round(time.monotonic() - start, 1)}
