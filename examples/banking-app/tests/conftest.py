import os
import re
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.core.management import call_command
from django.test import Client

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
APP_DIR = ROOT / "app"
PYTHON = sys.executable
DEMO_PASSWORD = "demo-" + secrets.token_hex(8)
STATIC_RE = re.compile(r'(?:href|src)="(/static/[^"]+)"')


@pytest.fixture(scope="session", autouse=True)
def collected_static():
    call_command("collectstatic", "--noinput", verbosity=0)


@pytest.fixture
def bank(db, monkeypatch):
    """Seeded tenants acme, globex and smoke with demo users."""
    monkeypatch.setenv("BANKAPP_DEMO_PASSWORD", DEMO_PASSWORD)
    call_command("seed_bank", tenants="acme,globex,smoke", accounts=5, loans=4, stdout=open(os.devnull, "w"))
    return DEMO_PASSWORD


def login(username):
    from django.contrib.auth import get_user_model
    c = Client()
    c.force_login(get_user_model().objects.get(username=username))
    return c


@pytest.fixture
def as_user(bank):
    return login


# ---- helpers for tests that need their own real databases (release repo, gunicorn) ----

def _server_url():
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.skip("DATABASE_URL not set")
    return url


def admin_conninfo():
    parts = urlsplit(_server_url())
    return urlunsplit(parts._replace(path="/postgres"))


class Databases:
    def __init__(self):
        self.created = []

    def create(self, prefix="bankapp_t"):
        name = f"{prefix}_{secrets.token_hex(4)}"
        with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        parts = urlsplit(_server_url())
        return urlunsplit(parts._replace(path="/" + name))

    def drop_all(self):
        with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def databases():
    dbs = Databases()
    yield dbs
    dbs.drop_all()
