"""Concurrent dispatches with one request id: one row, identical bodies (PostgreSQL)."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from api.testing import keyed_api
from audit.models import DispatchLog
from authoring.demo import demo_world_load

BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_id_produce_one_row_and_identical_bodies(require_postgres):
    demo_world_load()
    _, _, key = keyed_api("dispatch")
    ids = [uuid.uuid4() for _ in range(5)]
    copies = 4
    barrier = threading.Barrier(len(ids) * copies)
    results: list[tuple[uuid.UUID, int, bytes]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(rid: uuid.UUID) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
            barrier.wait(timeout=10)
            response = client.post(f"/dispatch?request_id={rid}", BASIC, format="json")
            with lock:
                results.append((rid, response.status_code, response.content))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(rid,)) for rid in ids for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(results) == len(ids) * copies
    assert all(status == 200 for _, status, _ in results)
    for rid in ids:
        bodies = {content for r, _, content in results if r == rid}
        assert len(bodies) == 1
    assert DispatchLog.objects.count() == len(ids)
