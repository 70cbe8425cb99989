"""bench/cpu_split.py reads each process's CPU time from /proc, by kind."""

from __future__ import annotations

import os

import pytest

from bench.cpu_split import cpu_by_kind

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")


def test_cpu_of_the_named_pids_is_counted_as_theirs_and_grows_with_work():
    me = {"app": {os.getpid()}}
    before = cpu_by_kind(me)
    sum(i * i for i in range(3_000_000))  # about a tenth of a second of user time
    after = cpu_by_kind(me)
    assert after["app user"] - before["app user"] >= 10_000  # µs; /proc counts in 10 ms ticks
    assert "app system" in after
