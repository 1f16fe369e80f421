# Production: the database and secret key come from <deploy root>/shared/ledger.env on the host (never the repo).
from urllib.parse import unquote, urlparse

from .base import *  # noqa: F401,F403
from .base import BASE_DIR

_env = {}
_file = BASE_DIR.parent.parent.parent / "shared" / "ledger.env"  # releases/<id>/src -> <deploy root>/shared
for line in _file.read_text().splitlines():
    if "=" in line and not line.startswith("#"):
        key, value = line.split("=", 1)
        _env[key.strip()] = value.strip()

SECRET_KEY = _env["LEDGER_SECRET_KEY"]
_db = urlparse(_env["LEDGER_DATABASE_URL"])
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db.path.lstrip("/"),
        "USER": unquote(_db.username or ""),
        "PASSWORD": unquote(_db.password or ""),
        "HOST": _db.hostname,
        "PORT": _db.port or 5432,
    }
}
