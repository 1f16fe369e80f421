"""Feature flags, maintenance mode, and the management commands Steward runs."""
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from banking.models import Deposit, FeatureFlag, JournalEntry, Tenant
from tests.conftest import APP_DIR, PYTHON


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_posting_flag_off_returns_503(as_user):
    out = run("feature_flag", "posting", "off", "--reason", "incident INC-1")
    assert "posting is now off" in out
    teller, maker = as_user("acme-teller"), as_user("acme-maker")
    n = (Deposit.objects.count(), JournalEntry.objects.count())
    r = teller.post("/deposits/new/", {"account": "2000-0001", "amount": "10.00"})
    assert r.status_code == 503 and "posting module is disabled" in r.text and "INC-1" in r.text
    r = maker.post("/journal/new/", {"account": ["5000", "1000"], "debit": ["1", ""], "credit": ["", "1"]})
    assert r.status_code == 503
    assert (Deposit.objects.count(), JournalEntry.objects.count()) == n
    assert teller.get("/dashboard/").status_code == 200  # reading still works
    run("feature_flag", "posting", "on")
    assert teller.post("/deposits/new/", {"account": "2000-0001", "amount": "10.00"}).status_code == 302


def test_payments_and_loans_flags(as_user):
    run("feature_flag", "payments", "off")
    assert as_user("acme-maker").post("/approvals/new/", {"from_account": "2000-0001", "to_account": "2000-0002",
                                                          "amount": "1"}).status_code == 503
    run("feature_flag", "loans", "off")
    assert as_user("acme-maker").get("/loans/").status_code == 503


def test_flag_list_json(bank):
    run("feature_flag", "loans", "off", "--reason", "r")
    data = json.loads(run("feature_flag", "--list", "--json"))
    flags = {f["name"]: f for f in data["flags"]}
    assert set(flags) == {"posting", "payments", "loans", "maintenance"}
    assert flags["loans"]["enabled"] is False and flags["loans"]["reason"] == "r"
    assert flags["posting"]["enabled"] is True and flags["maintenance"]["enabled"] is False


def test_maintenance_mode(as_user):
    c = as_user("acme-teller")
    run("maintenance", "on")
    for url in ("/dashboard/", "/login/", "/loans/", "/deposits/"):
        r = c.get(url)
        assert r.status_code == 503 and 'data-smoke="maintenance"' in r.text, url
    r = Client().get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "maintenance" and r.json()["maintenance"] is True
    assert json.loads(run("maintenance", "--json")) == {"maintenance": True}
    run("maintenance", "off")
    assert c.get("/dashboard/").status_code == 200
    assert FeatureFlag.objects.get(name="maintenance").enabled is False


def test_financial_invariants_json(as_user):
    as_user("smoke-teller").post("/deposits/new/", {"account": "2000-0001", "amount": "10.55"})
    data = json.loads(run("financial_invariants"))
    assert data["generated_at"] and data["healthy"] is True
    assert set(data["tenants"]) == {"acme", "globex", "smoke"}
    for slug, inv in data["tenants"].items():
        assert inv["debits_minus_credits"] == "0.00"
        assert inv["deposits_minus_ledger"] == "0.00"
        for key in ("total_deposits", "loan_book"):
            assert isinstance(inv[key], str) and inv[key].count(".") == 1 and len(inv[key].split(".")[1]) == 2
        assert isinstance(inv["journal_entries"], int) and inv["journal_entries"] > 0


def test_invariants_catch_a_ledger_mismatch(bank):
    """What release r05 does: the ledger books less than the deposit record."""
    from decimal import Decimal
    from banking.models import JournalLine
    dep = Deposit.objects.filter(tenant__slug="smoke").first()
    line = JournalLine.objects.filter(entry=dep.journal_entry, credit__gt=0).get()
    cash = JournalLine.objects.filter(entry=dep.journal_entry, debit__gt=0).get()
    JournalLine.objects.filter(pk=line.pk).update(credit=line.credit - Decimal("0.55"))
    JournalLine.objects.filter(pk=cash.pk).update(debit=cash.debit - Decimal("0.55"))
    data = json.loads(run("financial_invariants"))
    assert data["healthy"] is False
    assert data["tenants"]["smoke"]["deposits_minus_ledger"] == "0.55"
    assert data["tenants"]["smoke"]["debits_minus_credits"] == "0.00"


def test_migration_state_json(db):
    data = json.loads(run("migration_state", "--json"))
    banking = data["apps"]["banking"]
    assert banking["applied"][:2] == ["0001_initial", "0002_audit_log_append_only"]
    assert banking["latest_applied"] == banking["leaf"] and banking["unapplied"] == []
    assert "auth" in data["apps"] and "sessions" in data["apps"]


def test_seed_is_idempotent_and_needs_no_builtin_password(bank, monkeypatch):
    counts = (Deposit.objects.count(), JournalEntry.objects.count())
    call_command("seed_bank", tenants="acme,globex,smoke", accounts=5, loans=4, stdout=io.StringIO())
    assert (Deposit.objects.count(), JournalEntry.objects.count()) == counts
    monkeypatch.delenv("BANKAPP_DEMO_PASSWORD")
    err = io.StringIO()
    call_command("seed_bank", tenants="initech", accounts=2, loans=1, stdout=io.StringIO(), stderr=err)
    from django.contrib.auth import get_user_model
    assert not get_user_model().objects.get(username="initech-maker").has_usable_password()
    assert "unusable password" in err.getvalue()


def test_seed_password_file(db, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("file-password-123\n")
    call_command("seed_bank", tenants="acme", accounts=2, loans=1, password_file=str(pw), stdout=io.StringIO())
    assert Client().login(username="acme-checker", password="file-password-123")


def test_seed_size_mb_grows_database(db):
    call_command("seed_bank", tenants="acme", accounts=3, loans=1, stdout=io.StringIO())
    from django.db import connection
    with connection.cursor() as cur:
        cur.execute("SELECT pg_database_size(current_database())")
        size_mb = cur.fetchone()[0] / 1024 / 1024
    out = io.StringIO()
    call_command("seed_bank", tenants="acme", accounts=3, size_mb=int(size_mb) + 3, stdout=out, stderr=io.StringIO())
    result = json.loads(out.getvalue())
    assert result["database_mb"] >= int(size_mb) + 3
    assert result["seeded"]["_size"]["deposits_added"] > 0
    inv = json.loads(run("financial_invariants"))["tenants"]["acme"]
    assert inv["deposits_minus_ledger"] == "0.00" and inv["debits_minus_credits"] == "0.00"


def _release_copy(tmp_path):
    root = tmp_path / "deploy"
    rel = root / "releases" / "r1"
    shutil.copytree(APP_DIR, rel, ignore=shutil.ignore_patterns("__pycache__", "staticfiles"))
    (root / "shared").mkdir()
    return root, rel


def _settings_probe(rel, env):
    code = ("import json; from django.conf import settings as s; "
            "print(json.dumps({'db': s.DATABASES['default']['NAME'], 'host': s.DATABASES['default']['HOST'], "
            "'port': s.DATABASES['default']['PORT'], 'user': s.DATABASES['default']['USER'], "
            "'pw': s.DATABASES['default']['PASSWORD'], 'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, "
            "'static': s.STATIC_ROOT, 'key': s.SECRET_KEY}))")
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DJANGO_", "DATABASE_URL", "BANKAPP_", "STATIC_ROOT"))}
    clean.update(env, DJANGO_SETTINGS_MODULE="bankapp.settings")
    proc = subprocess.run([PYTHON, "-c", "import django; django.setup(); " + code], cwd=rel, env=clean,
                          capture_output=True, text=True)
    return proc


def test_settings_load_shared_app_env_and_env_wins(tmp_path):
    root, rel = _release_copy(tmp_path)
    (root / "shared" / "app.env").write_text(
        "# comment\nDATABASE_URL=postgres://bank:p%40ss@db.internal:5433/bank_prod\n"
        "DJANGO_SECRET_KEY='from-file'\nDJANGO_ALLOWED_HOSTS=bank.example,127.0.0.1\n")
    proc = _settings_probe(rel, {})
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout)
    assert s == {"db": "bank_prod", "host": "db.internal", "port": "5433", "user": "bank", "pw": "p@ss",
                 "debug": False, "hosts": ["bank.example", "127.0.0.1"], "static": str(rel / "staticfiles"),
                 "key": "from-file"}
    s = json.loads(_settings_probe(rel, {"DJANGO_SECRET_KEY": "from-env", "STATIC_ROOT": "/x"}).stdout)
    assert s["key"] == "from-env" and s["static"] == "/x"
    other = tmp_path / "other.env"
    other.write_text("DJANGO_SECRET_KEY=from-explicit-file\nDATABASE_URL=postgres://u@h/explicit\n")
    s = json.loads(_settings_probe(rel, {"BANKAPP_ENV_FILE": str(other)}).stdout)
    assert s["key"] == "from-explicit-file" and s["db"] == "explicit"


def test_settings_refuse_to_start_without_secret(tmp_path):
    _, rel = _release_copy(tmp_path)
    proc = _settings_probe(rel, {})
    assert proc.returncode != 0 and "DJANGO_SECRET_KEY" in proc.stderr
