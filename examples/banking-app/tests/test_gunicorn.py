"""Start the app under real Gunicorn from a release dir (deploy layout with shared/app.env),
hit /healthz, log in over HTTP with CSRF, load /dashboard/ and a static asset, reload by HUP,
and stop it by pid."""
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import APP_DIR, PYTHON, STATIC_RE

pytestmark = pytest.mark.slow
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status, r.read().decode()
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_gunicorn_serves_a_release(tmp_path, databases):
    root = tmp_path / "deploy"
    rel = root / "releases" / "r1"
    shutil.copytree(APP_DIR, rel, ignore=shutil.ignore_patterns("__pycache__", "staticfiles"))
    (root / "shared").mkdir()
    (root / "current").symlink_to(rel)
    (root / "shared" / "app.env").write_text(
        f"DATABASE_URL={databases.create('bankapp_gu')}\nDJANGO_SECRET_KEY=gunicorn-test-secret\n"
        f"DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost\nBANKAPP_LOG_DIR={root / 'shared' / 'log'}\n")
    pwfile = root / "shared" / "demo-password"
    pwfile.write_text("gunicorn-demo-pw\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "BANKAPP_", "DATABASE_URL", "STATIC_ROOT"))}
    env["PWD"] = str(root / "current")
    cur = root / "current"
    for args in (["collectstatic", "--noinput", "-v", "0"], ["migrate", "--noinput", "-v", "0"],
                 ["seed_bank", "--tenants", "smoke", "--accounts", "3", "--password-file", str(pwfile)]):
        subprocess.run([PYTHON, "manage.py", *args], cwd=cur, env=env, check=True, capture_output=True)

    port = free_port()
    pidfile = root / "shared" / "gunicorn.pid"
    base = f"http://127.0.0.1:{port}"
    subprocess.run([GUNICORN, "bankapp.wsgi", "-c", str(cur / "gunicorn.conf.py"), "--chdir", str(cur),
                    "--bind", f"127.0.0.1:{port}", "--pid", str(pidfile), "--daemon", "--workers", "2",
                    "--access-logfile", str(root / "shared" / "access.log"),
                    "--error-logfile", str(root / "shared" / "error.log")],
                   cwd=cur, env=env, check=True, timeout=30)
    pid = None
    try:
        status, body = wait_http(base + "/healthz")
        pid = int(pidfile.read_text().strip())
        assert status == 200 and '"db": "ok"' in body and '"status": "ok"' in body

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        html = opener.open(base + "/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        assert any(c.name == "csrftoken" for c in jar)
        data = urllib.parse.urlencode({"username": "smoke-teller", "password": "gunicorn-demo-pw",
                                       "csrfmiddlewaretoken": token}).encode()
        req = urllib.request.Request(base + "/login/", data=data, headers={"Referer": base + "/login/"})
        with opener.open(req) as r:  # follows the redirect to /dashboard/
            assert r.status == 200 and r.url == base + "/dashboard/"
            page = r.read().decode()
        assert 'data-smoke="dashboard-ok"' in page
        for ref in set(STATIC_RE.findall(page)):
            with opener.open(base + ref) as r:
                assert r.status == 200 and r.read()

        # graceful reload by HUP keeps serving
        os.kill(pid, signal.SIGHUP)
        time.sleep(1.5)
        assert wait_http(base + "/healthz")[0] == 200
        assert (root / "shared" / "log" / "app.log").stat().st_size > 0
    finally:
        if pid is None and pidfile.exists():
            pid = int(pidfile.read_text().strip())
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.2)
            else:
                pytest.fail(f"gunicorn master {pid} did not stop")
