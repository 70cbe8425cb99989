"""Shared snapshot rows are sealed with an HMAC bound to their Redis key name and the share key."""

from __future__ import annotations

from policies.snapshot.share import rows_seal, rows_unseal, share_key


def test_shared_rows_are_bound_to_their_key_name_and_the_share_key(settings):
    rows = {"providers": [], "policies": [], "rules": [["eu_west", "Ireland", True, True, True, [], ["x"], []]]}
    sealed = rows_seal("mds:1:snapshot-rows:7:1.000000", rows)
    assert rows_unseal("mds:1:snapshot-rows:7:1.000000", sealed) == rows
    assert rows_unseal("mds:1:snapshot-rows:8:1.000000", sealed) is None  # another stamp
    assert rows_unseal("other:1:snapshot-rows:7:1.000000", sealed) is None  # another deployment's prefix
    assert rows_unseal("mds:1:snapshot-rows:7:1.000000", sealed.replace(b'["x"]', b"[]")) is None
    assert rows_unseal("mds:1:snapshot-rows:7:1.000000", sealed[:64]) is None
    derived = share_key()
    settings.SNAPSHOT_SHARE_KEY = "a-key-set-by-the-operator"
    assert share_key() != derived
    assert rows_unseal("mds:1:snapshot-rows:7:1.000000", sealed) is None  # signed under the other key
    settings.SNAPSHOT_SHARE_KEY = ""
    settings.SECRET_KEY = "another-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
    assert share_key() not in (derived, b"a-key-set-by-the-operator")
