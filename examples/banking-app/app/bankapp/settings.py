"""Settings for the Steward demo banking app.

Configuration comes from environment variables. Before reading them, an env file
(simple KEY=VALUE lines, no shell syntax) is loaded from $BANKAPP_ENV_FILE if set,
else from <BASE_DIR>/../../shared/app.env if it exists (BASE_DIR is the release dir,
so on a target host that is <deployRoot>/shared/app.env). Real environment
variables always win over the file.
"""
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit, parse_qsl

from django.core.exceptions import ImproperlyConfigured

from bankapp.version import RELEASE, VERSION

BASE_DIR = Path(__file__).resolve().parent.parent


def load_env_file(path):
    """Load KEY=VALUE lines into os.environ without overriding real variables."""
    loaded = []
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[len("export "):].lstrip()
            if "=" not in line:
                raise ImproperlyConfigured(f"{path}:{lineno}: expected KEY=VALUE")
            key, value = line.split("=", 1)
            key, value = key.strip(), value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            if not key.replace("_", "").isalnum():
                raise ImproperlyConfigured(f"{path}:{lineno}: bad key {key!r}")
            if key not in os.environ:
                os.environ[key] = value
                loaded.append(key)
    return loaded


_env_file = os.environ.get("BANKAPP_ENV_FILE")
if _env_file:
    if not os.path.isfile(_env_file):
        raise ImproperlyConfigured(f"BANKAPP_ENV_FILE={_env_file} does not exist")
    ENV_FILE = _env_file
else:
    _default = BASE_DIR.parent.parent / "shared" / "app.env"
    ENV_FILE = str(_default) if _default.is_file() else None
if ENV_FILE:
    load_env_file(ENV_FILE)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def parse_database_url(url):
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise ImproperlyConfigured(f"DATABASE_URL scheme {parts.scheme!r} is not postgres://")
    options = dict(parse_qsl(parts.query))
    host = unquote(parts.hostname or "") if parts.hostname else ""
    if not host and "host" in options:
        host = options.pop("host")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "bankapp",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
        "OPTIONS": options,
    }


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "insecure-development-only-key"
    else:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is not set (environment or app.env)")

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

DATABASES = {"default": parse_database_url(os.environ.get("DATABASE_URL", "postgres:///bankapp"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "banking",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "banking.middleware.RequestLogMiddleware",
    "banking.middleware.MaintenanceModeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "banking.middleware.TenantMiddleware",
]

ROOT_URLCONF = "bankapp.urls"
WSGI_APPLICATION = "bankapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "banking.context_processors.bank",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("STATIC_ROOT") or str(BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

BANKAPP_RELEASE = RELEASE
BANKAPP_VERSION = VERSION
BANKAPP_LOG_DIR = os.environ.get("BANKAPP_LOG_DIR") or None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "banking.logfmt.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("BANKAPP_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"level": "WARNING", "propagate": True},
    },
}
if BANKAPP_LOG_DIR:
    os.makedirs(BANKAPP_LOG_DIR, exist_ok=True)
    LOGGING["handlers"]["file"] = {
        "class": "logging.handlers.WatchedFileHandler",
        "filename": os.path.join(BANKAPP_LOG_DIR, "app.log"),
        "formatter": "json",
    }
    LOGGING["root"]["handlers"].append("file")
