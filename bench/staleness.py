"""Staleness: from an authoring change's commit to the moment every gunicorn worker has rebuilt.

Each worker logs `snapshot vN built ... (pid P, at T)` when it rebuilds; while background
clients keep every worker busy, an authoring change is committed at time C and the figure is
max over workers of (T - C) for the first version >= the new one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

BUILT = re.compile(r"snapshot v(\d+) built .*?\(pid (\d+), at ([\d.]+)\)")
SOURCE = re.compile(r"snapshot v\d+ built in ([\d.]+) ms: \d+ policies from (\w+)")


def build_times(log_path: Path) -> dict[str, list[float]]:
    """Wall milliseconds of each logged rebuild, by source (database: built here; redis: loaded)."""
    out: dict[str, list[float]] = {}
    for ms, source in SOURCE.findall(log_path.read_text()):
        out.setdefault(source, []).append(float(ms))
    return out


def rebuilds(log_path: Path) -> list[tuple[int, int, float]]:
    """(version, pid, wall time) of every snapshot rebuild logged so far."""
    return [(int(v), int(p), float(t)) for v, p, t in BUILT.findall(log_path.read_text())]


def served_everywhere(log_path: Path, *, version: int, pids: set[int], since: float) -> float | None:
    """Seconds from `since` until the last of `pids` rebuilt at `version` or later, or None if not yet."""
    first: dict[int, float] = {}
    for v, pid, at in rebuilds(log_path):
        if v >= version and pid in pids and pid not in first:
            first[pid] = at
    if set(first) != pids:
        return None
    return max(first.values()) - since


@dataclass
class Traffic:
    """Background GETs from a separate process (wrk, 8 connections), so every worker keeps serving
    during the measurement and the committing process (this one) is not slowed by the load."""

    url: str
    connections: int = 8
    api_key: str = ""
    process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Traffic:
        wrk = shutil.which("wrk")
        if wrk is None:
            raise RuntimeError("needs wrk: apt-get install -y wrk")
        headers = ["-H", f"Authorization: Api-Key {self.api_key}"] if self.api_key else []
        self.process = subprocess.Popen(  # noqa: S603 - loopback load on our own server
            [wrk, "-t1", f"-c{self.connections}", "-d600s", *headers, self.url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)


def authoring_change(n: int) -> tuple[int, float, float]:
    """Save a policy (the signal bumps the stamp in the same transaction); (new version, commit
    time, announce time: when the committing process had shared the rows and raised the mirror).

    The commit time is the stamp's `changed_at`, written by the bump itself: the work done after
    the commit (building and sharing the rows) counts as staleness."""
    from policies.models import DispatchPolicy, SnapshotStamp
    from providers.models import ModelProvider

    policy = DispatchPolicy(
        name=f"staleness-{n}",
        subject="mathematics",
        grade_band="elementary",
        region="us_east",
        primary_provider=ModelProvider.objects.get(slug="openai-gpt4"),
        priority=900_000 + n,
    )
    policy.save()  # autocommit: committed (and its rows shared) when save() returns
    announced = time.time()
    stamp = SnapshotStamp.objects.get(pk=1)
    return stamp.version, stamp.changed_at.timestamp(), announced  # changed_at: set by the committing UPDATE


def staleness_measure(
    log_path: Path, *, url: str, pids: set[int], changes: int, timeout: float = 10.0, api_key: str = ""
) -> list[tuple[float, float]]:
    """(seconds from commit to every worker rebuilt, seconds from commit to the announce), per change."""
    figures = []
    with Traffic(url, api_key=api_key):
        time.sleep(0.5)
        for n in range(changes):
            version, committed, announced = authoring_change(n)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                seconds = served_everywhere(log_path, version=version, pids=pids, since=committed)
                if seconds is not None:
                    figures.append((seconds, announced - committed))
                    break
                time.sleep(0.02)
            else:
                raise RuntimeError(f"not every worker rebuilt version {version} within {timeout} s")
            time.sleep(0.3)
    return figures
