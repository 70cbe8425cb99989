"""Engine figures: resolve() time, and the snapshot's compile time and memory, by policy count.

Pure: builds the world as engine types (no database), so it measures the engine alone.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from dataclasses import dataclass

from bench.world import GRADE_BANDS, REGIONS, SUBJECTS, contexts, policy_plan
from policies.engine import DispatchContext, PolicySpec, ProviderSpec, RegionRule, Snapshot, compile_contexts, resolve

# What `policies.snapshot` decides when it builds a snapshot: every context of the vocabulary.
VOCABULARY_CONTEXTS = tuple(DispatchContext(s, g, r) for r in REGIONS for s in SUBJECTS for g in GRADE_BANDS)

FRAMEWORKS = ["FERPA", "COPPA", "GDPR", "PDPA", "POPIA", "ISO27001", "SOC2"]


def providers(count: int = 12) -> dict[str, ProviderSpec]:
    specs = {}
    for n in range(count):
        pid = f"00000000-0000-4000-8000-{n:012d}"
        specs[pid] = ProviderSpec(
            id=pid,
            slug=f"provider-{n}",
            name=f"Provider {n}",
            endpoint_url=f"https://provider-{n}.example/v1/chat",
            hosting_regions=frozenset(REGIONS[n % len(REGIONS) :: 3]),
            compliance_frameworks=frozenset(FRAMEWORKS[n % 3 :: 2]),
            encrypts=n % 5 != 4,
            active=n % 11 != 10,
            requests_per_minute=60,
            tokens_per_minute=100_000,
            cost_per_1k_input=0.01,
            cost_per_1k_output=0.02,
        )
    return specs


def rules(provider_ids: list[str]) -> dict[str, RegionRule]:
    """Eight of the ten regions configured (two fail closed), with varied constraints."""
    out = {}
    for n, region in enumerate(REGIONS[:8]):
        out[region] = RegionRule(
            region=region,
            data_center=f"DC {region}",
            data_residency_required=n % 3 == 0,
            encryption_required=True,
            audit_logging_required=True,
            allowed_providers=frozenset(provider_ids[n::2]) if n % 4 == 1 else frozenset(),
            blocked_providers=frozenset(provider_ids[n : n + 1]),
            compliance_frameworks=frozenset(FRAMEWORKS[n % 3 :: 3][:1]),
        )
    return out


def world(count: int) -> tuple[dict[str, ProviderSpec], tuple[PolicySpec, ...], dict[str, RegionRule]]:
    specs = providers()
    ids = list(specs)
    plan = policy_plan(count, providers=len(ids), templates=4)
    policies = tuple(
        PolicySpec(
            id=f"10000000-0000-4000-8000-{n:012d}",
            name=p.name,
            subject=p.subject,
            grade_band=p.grade_band,
            region=p.region,
            primary_provider_id=ids[p.chain[0]],
            fallback_provider_ids=tuple(ids[i] for i in p.chain[1:]),
            template_ids=(f"20000000-0000-4000-8000-{p.template:012d}",),
            moderation_threshold=0.8,
            allow_teacher_override=n % 2 == 0,
            priority=p.priority,
        )
        for n, p in enumerate(plan)
    )
    return specs, policies, rules(ids)


@dataclass(frozen=True)
class EngineFigures:
    policies: int
    resolve_median_us: float
    resolve_p99_us: float
    build_ms: float
    memory_mb: float
    accepted_share: float


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def engine_measure(count: int, *, calls: int) -> EngineFigures:
    """Compile time untraced; memory (specs + indexes + per-context entries) under tracemalloc."""
    specs, policies, region_rules = world(count)
    asks = [DispatchContext(*c) for c in contexts(2000)]
    gc.collect()
    started = time.perf_counter()
    snapshot = compile_contexts(
        Snapshot(providers=specs, policies=policies, rules=region_rules, version=1), VOCABULARY_CONTEXTS
    )
    build_ms = (time.perf_counter() - started) * 1000
    del snapshot, specs, policies, region_rules
    gc.collect()
    tracemalloc.start()
    specs, policies, region_rules = world(count)
    snapshot = compile_contexts(
        Snapshot(providers=specs, policies=policies, rules=region_rules, version=1), VOCABULARY_CONTEXTS
    )
    del specs, policies, region_rules
    for context in asks:  # warm: the first sight of a context may compile its entry
        resolve(context, snapshot)
    gc.collect()
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    timings = []
    accepted = 0
    clock = time.perf_counter_ns
    for n in range(calls):
        context = asks[n % len(asks)]
        t0 = clock()
        decision = resolve(context, snapshot)
        timings.append((clock() - t0) / 1000)
        accepted += decision.accepted
    return EngineFigures(
        policies=count,
        resolve_median_us=statistics.median(timings),
        resolve_p99_us=percentile(timings, 0.99),
        build_ms=build_ms,
        memory_mb=memory / 1_048_576,
        accepted_share=accepted / calls,
    )
