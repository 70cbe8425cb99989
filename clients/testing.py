"""Test helper: an APIClient that sends a fresh API key with the given scopes (all by default)."""

from __future__ import annotations

import uuid

from rest_framework.test import APIClient

from clients.models import ApiClient, Scope
from clients.services import api_client_create


def keyed_api(*scopes: str, rate: str = "", name: str = "") -> tuple[APIClient, ApiClient, str]:
    """(api, client row, key): `api` sends `Authorization: Api-Key <key>` on every request."""
    client, key = api_client_create(
        name=name or f"test-{uuid.uuid4().hex[:10]}", scopes=scopes or Scope.values, rate=rate
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return api, client, key
