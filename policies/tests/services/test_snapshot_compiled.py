"""A snapshot built from the database has every context of the vocabulary decided, so the reads of
it (the override page's offer) are lookups that agree with what `resolve` decides."""

from __future__ import annotations

import pytest

from policies.engine import Snapshot, resolve
from policies.selectors import override_offer
from policies.snapshot import snapshot_build
from policies.snapshot.rows import CONTEXTS
from policies.tests.factories import make_policy, make_provider, make_rule
from vocabulary import GradeBand, Region, Subject

pytestmark = pytest.mark.django_db


def test_every_context_of_the_vocabulary_is_decided_when_the_snapshot_is_built():
    alpha, beta = make_provider("alpha"), make_provider("beta", regions=["eu_west"], frameworks=["GDPR"])
    make_rule("us_east", frameworks=("FERPA",))
    make_rule("eu_west", frameworks=("GDPR",))
    make_policy("Math", alpha, beta, subject="mathematics")
    built = snapshot_build()
    assert len(CONTEXTS) == len(Subject.values) * len(GradeBand.values) * len(Region.values)
    assert set(built.compiled) == set(CONTEXTS)
    # The same decisions as a first resolve on a snapshot of the same world that decided nothing yet.
    fresh = Snapshot(
        providers=built.providers,
        policies=built.policies,
        rules=built.rules,
        agreements=built.agreements,
        band_ages=built.band_ages,
        on=built.on,
    )
    assert [built.compiled[c] for c in CONTEXTS] == [resolve(c, fresh) for c in CONTEXTS]
    accepted = {c.region for c in CONTEXTS if built.compiled[c].accepted}
    assert accepted == {"us_east", "eu_west"}  # the world above serves mathematics in both, nothing elsewhere


def test_the_override_offer_is_read_from_the_built_snapshot():
    alpha, beta = make_provider("alpha"), make_provider("beta")
    make_rule("us_east", frameworks=("FERPA",))
    make_policy("Math", alpha, beta, subject="mathematics", allow_teacher_override=True)
    built = snapshot_build()
    context = next(c for c in CONTEXTS if c.subject == "mathematics" and c.region == "us_east")
    offer = override_offer(context=context, region="us_east", grade_band=context.grade_band, snapshot=built)
    assert offer.options.reference is built.compiled[context]
    assert [p.slug for p in offer.options.available] == ["beta"]  # alpha is the policy's own choice
    assert not offer.options.refused_ahead
