"""The playbook §9 smoke checklist and §7 staging flows, through the real URL contract."""
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from banking.models import AuditLog, Deposit, JournalEntry, PaymentRequest
from banking.services import tenant_invariants
from banking.models import Tenant
from tests.conftest import STATIC_RE, login

PAGES = ["/dashboard/", "/loans/", "/deposits/", "/deposits/new/", "/approvals/", "/journal/",
         "/reports/trial-balance/"]
MARKERS = {"/dashboard/": "dashboard-ok", "/loans/": "loans-ok", "/deposits/": "deposits-ok",
           "/deposits/new/": "deposit-form", "/approvals/": "approvals-ok", "/journal/": "journal-ok",
           "/reports/trial-balance/": "trial-balance-ok"}


def csrf_from(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_healthz(db):
    r = Client().get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["db"] == "ok" and body["maintenance"] is False
    assert body["release"] == settings.BANKAPP_RELEASE


def test_login_with_csrf_like_a_smoke_client(bank):
    c = Client(enforce_csrf_checks=True)
    r = c.get("/login/")
    assert r.status_code == 200 and 'data-smoke="login-form"' in r.text
    token = csrf_from(r.text)
    assert c.cookies["csrftoken"].value
    r = c.post("/login/", {"username": "smoke-teller", "password": bank, "csrfmiddlewaretoken": token})
    assert r.status_code == 302 and r["Location"] == "/dashboard/"
    r = c.get("/dashboard/")
    assert r.status_code == 200 and 'data-smoke="dashboard-ok"' in r.text
    # and a CSRF-protected POST through the same client
    r = c.get("/deposits/new/")
    r = c.post("/deposits/new/", {"account": "2000-0001", "amount": "10.55", "reference": "smoke",
                                  "csrfmiddlewaretoken": csrf_from(r.text)})
    assert r.status_code == 302, r.text


def test_post_without_csrf_token_is_refused(bank):
    c = Client(enforce_csrf_checks=True)
    assert c.post("/login/", {"username": "smoke-teller", "password": bank}).status_code == 403


def test_wrong_password(bank):
    r = Client().post("/login/", {"username": "smoke-teller", "password": "wrong-password"})
    assert r.status_code == 200 and 'data-smoke="login-failed"' in r.text


def test_anonymous_is_sent_to_login(db):
    r = Client().get("/dashboard/")
    assert r.status_code == 302 and r["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("username", ["acme-maker", "acme-checker", "acme-teller", "acme-auditor", "acme-admin"])
def test_every_page_loads_for_every_role(as_user, username):
    c = as_user(username)
    for url in PAGES:
        r = c.get(url)
        if url == "/deposits/new/" and username in ("acme-checker", "acme-auditor"):
            assert r.status_code == 403
            continue
        assert r.status_code == 200, (url, r.status_code)
        assert f'data-smoke="{MARKERS[url]}"' in r.text


def test_loan_list(as_user):
    r = as_user("acme-auditor").get("/loans/")
    assert r.status_code == 200 and r.text.count("data-loan-id=") == 4


def test_deposit_posting_creates_balanced_journal_entry(as_user):
    c = as_user("smoke-teller")
    tenant = Tenant.objects.get(slug="smoke")
    before = tenant_invariants(tenant)
    r = c.post("/deposits/new/", {"account": "2000-0002", "amount": "10.55", "reference": "SMOKE-1"})
    assert r.status_code == 302
    dep = Deposit.objects.get(reference="SMOKE-1")
    assert r["Location"] == f"/deposits/{dep.pk}/"
    assert dep.amount == Decimal("10.55")
    lines = list(dep.journal_entry.lines.all())
    assert sum(l.debit for l in lines) == sum(l.credit for l in lines) == Decimal("10.55")
    page = c.get(r["Location"])
    assert 'data-smoke="deposit-ok"' in page.text and '>10.55<' in page.text
    after = tenant_invariants(tenant)
    assert after["deposits_minus_ledger"] == after["debits_minus_credits"] == "0.00"
    assert Decimal(after["total_deposits"]) - Decimal(before["total_deposits"]) == Decimal("10.55")
    assert AuditLog.objects.filter(action="deposit.posted", object_id=str(dep.pk)).exists()


@pytest.mark.parametrize("amount", ["abc", "-5", "0", "1.234", ""])
def test_deposit_rejects_bad_amounts(as_user, amount):
    r = as_user("smoke-teller").post("/deposits/new/", {"account": "2000-0001", "amount": amount})
    assert r.status_code == 400 and 'data-smoke="form-errors"' in r.text


def test_approval_workflow_maker_checker(as_user):
    maker, checker = as_user("smoke-maker"), as_user("smoke-checker")
    r = maker.post("/approvals/new/", {"kind": "transfer", "from_account": "2000-0001", "to_account": "2000-0002",
                                       "amount": "25.00", "memo": "smoke"})
    assert r.status_code == 302
    req = PaymentRequest.objects.latest("id")
    assert r["Location"] == f"/approvals/{req.pk}/" and req.status == "pending"
    # the maker cannot approve their own request
    assert maker.post(f"/approvals/{req.pk}/approve/").status_code == 403
    req.refresh_from_db()
    assert req.status == "pending"
    r = checker.post(f"/approvals/{req.pk}/approve/")
    assert r.status_code == 302
    req.refresh_from_db()
    assert req.status == "approved" and req.checker.username == "smoke-checker"
    lines = list(req.journal_entry.lines.all())
    assert sum(l.debit for l in lines) == sum(l.credit for l in lines) == Decimal("25.00")
    page = checker.get(f"/approvals/{req.pk}/")
    assert 'data-status="approved"' in page.text
    # deciding twice is refused
    assert checker.post(f"/approvals/{req.pk}/approve/").status_code == 409
    actions = set(AuditLog.objects.filter(object_id=str(req.pk)).values_list("action", flat=True))
    assert {"approval.requested", "approval.approved"} <= actions
    assert AuditLog.objects.filter(action="permission.denied", actor="smoke-maker").exists()


def test_admin_maker_cannot_approve_own_request(as_user):
    admin = as_user("acme-admin")
    admin.post("/approvals/new/", {"from_account": "2000-0001", "to_account": "2000-0003", "amount": "5"})
    req = PaymentRequest.objects.latest("id")
    assert admin.post(f"/approvals/{req.pk}/approve/").status_code == 403
    assert AuditLog.objects.filter(action="approval.self_approval_refused", object_id=str(req.pk)).exists()


def test_reject(as_user):
    as_user("acme-maker").post("/approvals/new/", {"from_account": "2000-0001", "to_account": "2000-0003",
                                                   "amount": "7.00"})
    req = PaymentRequest.objects.latest("id")
    assert as_user("acme-checker").post(f"/approvals/{req.pk}/reject/").status_code == 302
    req.refresh_from_db()
    assert req.status == "rejected" and req.journal_entry is None


def test_journal_balanced_and_unbalanced(as_user):
    c = as_user("smoke-maker")
    n = JournalEntry.objects.count()
    r = c.post("/journal/new/", {"description": "Accrual", "account": ["5000", "1000", ""],
                                 "debit": ["12.34", "", ""], "credit": ["", "12.34", ""]})
    assert r.status_code == 302 and r["Location"].startswith("/journal/")
    assert JournalEntry.objects.count() == n + 1
    assert 'data-smoke="journal-entry-ok"' in c.get(r["Location"]).text
    r = c.post("/journal/new/", {"description": "Bad", "account": ["5000", "1000"],
                                 "debit": ["12.34", ""], "credit": ["", "12.00"]})
    assert r.status_code == 400 and 'data-smoke="journal-unbalanced"' in r.text
    r = c.post("/journal/new/", {"description": "One line", "account": ["5000"], "debit": ["1"], "credit": [""]})
    assert r.status_code == 400
    r = c.post("/journal/new/", {"description": "Foreign", "account": ["5000", "9999"],
                                 "debit": ["1", ""], "credit": ["", "1"]})
    assert r.status_code == 400
    assert JournalEntry.objects.count() == n + 1


def test_trial_balance_balances(as_user):
    r = as_user("globex-auditor").get("/reports/trial-balance/")
    assert r.status_code == 200 and 'data-balanced="true"' in r.text


def test_static_assets_referenced_exist_after_collectstatic(as_user):
    c = as_user("acme-admin")
    seen = set()
    for url in PAGES + ["/login/"]:
        html = (Client() if url == "/login/" else c).get(url).text
        refs = STATIC_RE.findall(html)
        assert refs, f"{url} references no static asset"
        seen.update(refs)
    assert any(s.endswith(".css") for s in seen) and any(s.endswith(".js") for s in seen)
    for ref in seen:
        path = Path(settings.STATIC_ROOT) / ref[len(settings.STATIC_URL):]
        assert path.is_file(), ref
        r = c.get(ref)
        assert r.status_code == 200, ref
        b"".join(r.streaming_content) if r.streaming else r.content


def test_no_500_on_detail_pages(as_user):
    c = as_user("acme-auditor")
    acme = Tenant.objects.get(slug="acme")
    for model, prefix in ((Deposit, "/deposits/"), (JournalEntry, "/journal/")):
        obj = model.objects.filter(tenant=acme).first()
        assert c.get(f"{prefix}{obj.pk}/").status_code == 200
    loan = acme.loans.first()
    assert c.get(f"/loans/{loan.pk}/").status_code == 200
    acc = acme.accounts.first()
    assert c.get(f"/accounts/{acc.pk}/").status_code == 200


def test_healthz_is_json_without_login(db):
    r = Client().get("/healthz")
    assert r["Content-Type"] == "application/json" and json.loads(r.content)["db"] == "ok"


def test_login_helper(bank):
    assert login("globex-teller").get("/dashboard/").status_code == 200
