"""Build the release repository and, for every tag, check it out into a fresh directory,
migrate a fresh PostgreSQL database, exercise it, and migrate back to the previous tag's state."""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PYTHON, ROOT

pytestmark = pytest.mark.slow

# tag -> (previous tag, expected banking leaf migration)
TAGS = {
    "r01-baseline": (None, "0002_audit_log_append_only"),
    "r02-cosmetic": ("r01-baseline", "0002_audit_log_append_only"),
    "r03-additive-migration": ("r02-cosmetic", "0003_deposit_channel"),
    "r04-smoke-fails": ("r03-additive-migration", "0003_deposit_channel"),
    "r05-silent-balance": ("r03-additive-migration", "0003_deposit_channel"),
    "r06-drop-financial-column": ("r03-additive-migration", "0004_remove_loan_legacy_reference"),
    "r07-drop-audit-log": ("r03-additive-migration", "0004_delete_auditlog"),
    "r08-irreversible": ("r03-additive-migration", "0004_normalise_tenant_names"),
    "r09-requirements": ("r03-additive-migration", "0003_deposit_channel"),
}

PROBE = r"""
import json
from django.contrib.auth import get_user_model
from django.test import Client
c = Client(raise_request_exception=False)
c.force_login(get_user_model().objects.get(username="smoke-teller"))
out = {}
for url in ["/dashboard/", "/loans/", "/deposits/", "/approvals/", "/journal/", "/reports/trial-balance/"]:
    out[url] = c.get(url).status_code
r = c.post("/deposits/new/", {"account": "2000-0001", "amount": "10.55", "reference": "SMOKE"})
out["deposit"] = r.status_code
out["healthz"] = Client().get("/healthz").json()["release"]
print("PROBE" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def release_repo(tmp_path_factory):
    # Built from a copy whose files all share one mtime, as in a fresh clone: git's stat cache must not take an
    # overlay file of the same size for the unchanged parent file.
    src = tmp_path_factory.mktemp("src")
    for name in ("app", "releases"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".venv", "staticfiles"))
    shutil.copy(ROOT / "build-release-repo.sh", src)
    stamp = time.time() - 3600
    for path in [src, *src.rglob("*")]:
        os.utime(path, (stamp, stamp))
    dest = tmp_path_factory.mktemp("origin") / "banking-app.git"
    subprocess.run(["bash", str(src / "build-release-repo.sh"), str(dest)], check=True, capture_output=True)
    return dest


def test_every_tag_names_itself(release_repo):
    for tag in TAGS:
        version = subprocess.run(["git", "-C", str(release_repo), "show", f"{tag}:bankapp/version.py"], check=True,
                                 capture_output=True, text=True).stdout
        assert f'RELEASE = "{tag}"' in version, (tag, version)


def test_release_repo_has_the_contract_tags(release_repo):
    tags = subprocess.run(["git", "-C", str(release_repo), "tag", "--list"], check=True, capture_output=True,
                          text=True).stdout.split()
    assert sorted(tags) == sorted(TAGS)
    def parent(tag):
        return subprocess.run(["git", "-C", str(release_repo), "rev-parse", f"{tag}^{{commit}}^"],
                              check=True, capture_output=True, text=True).stdout.strip()
    def commit(tag):
        return subprocess.run(["git", "-C", str(release_repo), "rev-parse", f"{tag}^{{commit}}"],
                              check=True, capture_output=True, text=True).stdout.strip()
    for tag, (prev, _) in TAGS.items():
        if prev:
            assert parent(tag) == commit(prev), tag
    assert commit("main") == commit("r09-requirements")


def manage(rel, env, *args, check=True):
    proc = subprocess.run([PYTHON, "manage.py", *args], cwd=rel, env=env, capture_output=True, text=True,
                          timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed in {rel}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.parametrize("tag", list(TAGS))
def test_tag_builds_migrates_and_reverses(release_repo, tag, tmp_path, databases):
    prev, leaf = TAGS[tag]
    rel = tmp_path / "releases" / tag
    subprocess.run(["git", "clone", "-q", "--branch", tag, str(release_repo), str(rel)], check=True,
                   capture_output=True)
    assert (rel / "manage.py").is_file() and (rel / "requirements.txt").is_file()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BANKAPP_"))}
    env.update(DATABASE_URL=databases.create("bankapp_rel"), DJANGO_SECRET_KEY="release-test-secret-key",
               DJANGO_ALLOWED_HOSTS="testserver,127.0.0.1", STATIC_ROOT=str(tmp_path / "static"),
               BANKAPP_DEMO_PASSWORD="release-test-pw", DJANGO_SETTINGS_MODULE="bankapp.settings")
    manage(rel, env, "check")
    manage(rel, env, "makemigrations", "--check", "--dry-run")
    manage(rel, env, "collectstatic", "--noinput", "-v", "0")
    assert "banking.0001_initial" in manage(rel, env, "migrate", "--plan").stdout
    manage(rel, env, "sqlmigrate", "banking", leaf)
    manage(rel, env, "migrate", "--noinput")
    state = json.loads(manage(rel, env, "migration_state", "--json").stdout)["apps"]["banking"]
    assert state["latest_applied"] == leaf == state["leaf"] and state["unapplied"] == []
    manage(rel, env, "seed_bank", "--tenants", "acme,smoke", "--accounts", "3", "--loans", "3")

    probe = manage(rel, env, "shell", "-c", PROBE).stdout
    probe = json.loads(probe[probe.index("PROBE") + 5:].splitlines()[0])
    assert probe["healthz"] == tag
    for url in ["/dashboard/", "/loans/", "/deposits/", "/approvals/", "/journal/", "/reports/trial-balance/"]:
        expected = 500 if (tag == "r04-smoke-fails" and url == "/dashboard/") else 200
        assert probe[url] == expected, (tag, url, probe)
    assert probe["deposit"] == 302
    inv = json.loads(manage(rel, env, "financial_invariants").stdout)["tenants"]["smoke"]
    assert inv["debits_minus_credits"] == "0.00"
    assert inv["deposits_minus_ledger"] == ("-0.45" if tag == "r05-silent-balance" else "0.00"), inv

    # back to the previous tag's migration state
    target = "zero" if prev is None else TAGS[prev][1]
    proc = manage(rel, env, "migrate", "banking", target, "--noinput", check=False)
    if tag == "r08-irreversible":
        assert proc.returncode != 0 and "irreversible" in (proc.stdout + proc.stderr).lower()
        assert state["irreversible"] == ["0004_normalise_tenant_names"]
        return
    assert proc.returncode == 0, proc.stdout + proc.stderr
    state = json.loads(manage(rel, env, "migration_state").stdout)["apps"]["banking"]
    assert state["latest_applied"] == target
    if prev is None:
        return
    if tag == "r07-drop-audit-log":
        # the reverse re-creates audit_log and its append-only triggers
        code = ("from django.db import connection\nc = connection.cursor()\n"
                "c.execute(\"SELECT count(*) FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass "
                "AND NOT tgisinternal\")\nprint('TRIGGERS', c.fetchone()[0])")
        assert "TRIGGERS 2" in manage(rel, env, "shell", "-c", code).stdout
    manage(rel, env, "migrate", "--noinput")  # and forward again
