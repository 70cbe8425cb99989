"""The snapshot: the authored world as the engine reads it, one per worker, rebuilt on change.

- `rows`: database -> engine specs (the only ORM-to-engine bridge); `snapshot_build`.
- `cache`: the per-worker snapshot, `current_snapshot()`, checked against the stamp.
- `stamp`: the version stamp in PostgreSQL and its Redis mirror.
- `share`: one worker builds a version, the others load its HMAC-signed rows from Redis.
- `invalidation`: every authoring change moves the stamp, once per transaction.
"""

from policies.snapshot.cache import current_snapshot, snapshot_forget
from policies.snapshot.invalidation import connect_invalidation, stamp_bump
from policies.snapshot.rows import snapshot_build, snapshot_from_rows, snapshot_rows

__all__ = [
    "connect_invalidation",
    "current_snapshot",
    "snapshot_build",
    "snapshot_forget",
    "snapshot_from_rows",
    "snapshot_rows",
    "stamp_bump",
]
