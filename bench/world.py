"""Generated policy worlds for the bench: the same plan feeds the pure engine and the database.

Policies spread over every allowed shape (exact, subject + grade band, subject, default) at
distinct priorities, as authoring requires, with chains of one to three providers drawn from the
world's providers, so some chains are non-compliant in some regions and resolution passes them over.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from vocabulary import GradeBand, Region, Subject

SUBJECTS = [s.value for s in Subject]
GRADE_BANDS = [g.value for g in GradeBand]
REGIONS = [r.value for r in Region]


def shapes() -> list[tuple[str, str, str]]:
    """Every policy shape authoring allows, most general first (so even ten policies cover every context)."""
    exact = list(itertools.product(SUBJECTS, GRADE_BANDS, REGIONS))
    subject_grade = [(s, g, "") for s, g in itertools.product(SUBJECTS, GRADE_BANDS)]
    subject = [(s, "", "") for s in SUBJECTS]
    return [("", "", ""), *subject, *subject_grade, *exact]


@dataclass(frozen=True, slots=True)
class PlannedPolicy:
    name: str
    subject: str
    grade_band: str
    region: str
    priority: int
    chain: tuple[int, ...]  # indexes into the world's providers, primary first
    template: int  # index into the world's templates


def policy_plan(
    count: int, *, providers: int, templates: int, seed: int = 7, first_priority: int = 1000
) -> list[PlannedPolicy]:
    """`count` policies over every shape, round robin, priorities distinct within a shape.

    Priorities start at `first_priority` so generated policies rank above (and never collide
    with) hand-authored ones at priority 100.
    """
    rng = random.Random(seed)
    all_shapes = shapes()
    plan = []
    for n in range(count):
        subject, grade_band, region = all_shapes[n % len(all_shapes)]
        chain = tuple(rng.sample(range(providers), k=min(providers, rng.randint(1, 3))))
        plan.append(
            PlannedPolicy(
                name=f"bench-{n:06d}",
                subject=subject,
                grade_band=grade_band,
                region=region,
                priority=first_priority + n // len(all_shapes),
                chain=chain,
                template=rng.randrange(templates),
            )
        )
    return plan


def contexts(count: int, *, seed: int = 11) -> list[tuple[str, str, str]]:
    """Random request contexts (subject, grade band, region), every one of them valid input."""
    rng = random.Random(seed)
    return [(rng.choice(SUBJECTS), rng.choice(GRADE_BANDS), rng.choice(REGIONS)) for _ in range(count)]
