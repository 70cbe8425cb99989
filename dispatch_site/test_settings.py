"""Test settings: the real settings with plain static storage and a fast password hasher."""

from dispatch_site.settings import *  # noqa: F403
from dispatch_site.settings import STORAGES

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SNAPSHOT_CHECK_INTERVAL = 0.0
