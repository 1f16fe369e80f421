"""Permissions, tenant isolation and the append-only audit log."""
import pytest
from django.db import DatabaseError, connection, transaction

from banking.models import (Account, AppendOnlyError, AuditLog, Deposit, JournalEntry, Loan, PaymentRequest,
                            Tenant)


def test_teller_cannot_approve(as_user):
    as_user("acme-maker").post("/approvals/new/", {"from_account": "2000-0001", "to_account": "2000-0002",
                                                   "amount": "9.99"})
    req = PaymentRequest.objects.latest("id")
    for who in ("acme-teller", "acme-auditor"):
        assert as_user(who).post(f"/approvals/{req.pk}/approve/").status_code == 403
    req.refresh_from_db()
    assert req.status == "pending"


@pytest.mark.parametrize("username,url,data", [
    ("acme-teller", "/approvals/new/", {"from_account": "2000-0001", "to_account": "2000-0002", "amount": "1"}),
    ("acme-checker", "/approvals/new/", {"from_account": "2000-0001", "to_account": "2000-0002", "amount": "1"}),
    ("acme-teller", "/journal/new/", {"account": ["1000", "5000"], "debit": ["", "1"], "credit": ["1", ""]}),
    ("acme-auditor", "/journal/new/", {"account": ["1000", "5000"], "debit": ["", "1"], "credit": ["1", ""]}),
    ("acme-auditor", "/deposits/new/", {"account": "2000-0001", "amount": "1"}),
    ("acme-checker", "/deposits/new/", {"account": "2000-0001", "amount": "1"}),
])
def test_role_permissions(as_user, username, url, data):
    n = (JournalEntry.objects.count(), PaymentRequest.objects.count())
    assert as_user(username).post(url, data).status_code == 403
    assert (JournalEntry.objects.count(), PaymentRequest.objects.count()) == n


def test_tenant_isolation_object_urls(as_user):
    globex = Tenant.objects.get(slug="globex")
    as_user("globex-maker").post("/approvals/new/", {"from_account": "2000-0001", "to_account": "2000-0002",
                                                     "amount": "3.00"})
    req = PaymentRequest.objects.get(tenant=globex)
    urls = [f"/loans/{Loan.objects.filter(tenant=globex).first().pk}/",
            f"/deposits/{Deposit.objects.filter(tenant=globex).first().pk}/",
            f"/journal/{JournalEntry.objects.filter(tenant=globex).first().pk}/",
            f"/accounts/{Account.objects.filter(tenant=globex).first().pk}/",
            f"/approvals/{req.pk}/"]
    acme = as_user("acme-admin")
    for url in urls:
        assert as_user("globex-auditor").get(url).status_code == 200, url
        assert acme.get(url).status_code == 404, url
    assert as_user("acme-checker").post(f"/approvals/{req.pk}/approve/").status_code == 404
    req.refresh_from_db()
    assert req.status == "pending"


def test_tenant_isolation_lists_and_accounts(as_user):
    acme = as_user("acme-teller")
    globex_dep = Deposit.objects.filter(tenant__slug="globex").first()
    assert f'data-deposit-id="{globex_dep.pk}"' not in acme.get("/deposits/").text
    # account codes are per tenant: posting always lands in the user's own tenant
    acme.post("/deposits/new/", {"account": "2000-0001", "amount": "1.00", "reference": "ISO"})
    dep = Deposit.objects.get(reference="ISO")
    assert dep.tenant.slug == "acme" and dep.account.tenant.slug == "acme"


def test_user_without_tenant_is_forbidden(db):
    from django.contrib.auth import get_user_model
    from django.test import Client
    u = get_user_model().objects.create_user("nobody", password="x-long-password")
    c = Client()
    c.force_login(u)
    assert c.get("/dashboard/").status_code == 403


def test_audit_log_model_refuses_update_and_delete(bank):
    row = AuditLog.objects.create(action="test.event", actor="pytest")
    row.action = "tampered"
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    assert AuditLog.objects.get(pk=row.pk).action == "test.event"


@pytest.mark.parametrize("sql", [
    "UPDATE audit_log SET action = 'tampered'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
])
def test_audit_log_trigger_refuses_raw_sql(bank, sql):
    AuditLog.objects.create(action="test.event", actor="pytest")
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert AuditLog.objects.filter(action="test.event").exists()
    # bulk queryset paths hit the trigger too
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            AuditLog.objects.all().update(action="x")
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            AuditLog.objects.all().delete()
