"""The bench's settings: the product's, plus the URLconf that mounts /bench/baseline.

`make bench` (bench/run.py) serves the product under these, so the product's own settings and
URLconf never name the bench (import-linter: nothing in the product imports bench/ or drills/).
"""

import os

from dispatch_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
# Response bytes of one /bench/baseline row: the mean dispatch response width the bench measured.
BENCH_BASELINE_WIDTH = int(os.environ.get("BENCH_BASELINE_WIDTH", "1500"))
