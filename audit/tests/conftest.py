from __future__ import annotations

import pytest

from policies.tests.factories import make_policy, make_provider


@pytest.fixture
def providers(db):
    alpha = make_provider("alpha")
    beta = make_provider("beta")
    return {"alpha": alpha, "beta": beta, "policy": make_policy("P", alpha, beta)}


@pytest.fixture
def settled(settings):
    """Every row counts as settled at once (no grace before sealing or folding)."""
    settings.AUDIT_SETTLE_SECONDS = 0
    settings.AUDIT_CHECKPOINT_ROWS = 4
