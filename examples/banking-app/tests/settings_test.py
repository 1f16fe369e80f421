"""Test settings: the real settings plus a temporary STATIC_ROOT and a fast password hasher."""
import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")

from bankapp.settings import *  # noqa: E402,F401,F403

STATIC_ROOT = tempfile.mkdtemp(prefix="bankapp-static-")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
