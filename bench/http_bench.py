"""HTTP figures: gunicorn under production settings on PostgreSQL + Redis, loaded by wrk.

The bench owns throwaway databases (their own names: the product's and the floor's), a Redis
database number and key prefix, and free loopback ports; `bench/run.py` removes all of them.
The floor (`bench/floor/`, `FloorStack`) runs under the same gunicorn configuration and worker
count as the product, on its own settings and its own database.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS_SERVER = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "13"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_create(name: str, *, server: str = PG_SERVER) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(name: str, *, server: str = PG_SERVER) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def connections_release() -> None:
    """Close this process's Django connections and their psycopg pools (Django set up), so the
    bench's database can be dropped: nobody may be connected to it."""
    from django.db import connections

    connections.close_all()
    for wrapper in connections.all():
        close_pool = getattr(wrapper, "close_pool", None)
        if close_pool is not None:
            close_pool()


def world_load(policies: int) -> dict[str, int]:
    """Migrate, load the demo world, then bulk-insert `policies` generated policies (Django set up)."""
    from django.core.management import call_command

    from authoring.demo import demo_world_load
    from bench.world import policy_plan
    from policies.models import DispatchPolicy, PolicyFallback
    from policies.snapshot import stamp_bump
    from providers.models import ModelProvider, PromptTemplate

    call_command("migrate", verbosity=0)
    demo_world_load()
    providers = list(ModelProvider.objects.order_by("slug"))
    templates = list(PromptTemplate.objects.order_by("slug"))
    plan = policy_plan(policies, providers=len(providers), templates=len(templates))
    rows = [
        DispatchPolicy(
            name=p.name,
            subject=p.subject,
            grade_band=p.grade_band,
            region=p.region,
            primary_provider=providers[p.chain[0]],
            priority=p.priority,
            allow_teacher_override=True,
        )
        for p in plan
    ]
    DispatchPolicy.objects.bulk_create(rows, batch_size=2000)
    PolicyFallback.objects.bulk_create(
        (
            PolicyFallback(policy=row, provider=providers[i], position=position)
            for row, p in zip(rows, plan, strict=True)
            for position, i in enumerate(p.chain[1:], start=1)
        ),
        batch_size=5000,
    )
    through = DispatchPolicy.templates.through
    through.objects.bulk_create(
        (through(dispatchpolicy=row, prompttemplate=templates[p.template]) for row, p in zip(rows, plan, strict=True)),
        batch_size=5000,
    )
    # The bench measures the service, not the providers' quotas: limits high enough that no
    # provider saturates (each dispatch still takes its provider's counter, when there are counters).
    ModelProvider.objects.update(requests_per_minute=1_000_000_000, tokens_per_minute=1_000_000_000)
    stamp_bump()
    return {"policies": DispatchPolicy.objects.filter(is_active=True).count(), "providers": len(providers)}


def api_key_create() -> str:
    """An API key (dispatch, read) with a rate no run reaches, when API keys exist (else "")."""
    from django.apps import apps

    if not apps.is_installed("clients"):
        return ""
    from clients.services import api_client_create  # type: ignore[import-not-found,unused-ignore]

    _, key = api_client_create(name="bench", scopes=["dispatch", "read"], rate="100000000/min")
    return str(key)


def response_width(samples: int = 1000) -> int:
    """Mean width of the dispatch response (the audit row's widest column) over the load's contexts,
    decided in-process and rolled back, so the baseline can write rows of the same width."""
    from django.db import transaction

    from bench.world import contexts
    from policies.engine import DispatchContext
    from policies.services import dispatch

    widths = []
    with transaction.atomic():
        for context in contexts(samples, seed=3):
            widths.append(len(dispatch(context=DispatchContext(*context), fingerprint="width").body_json))
        transaction.set_rollback(True)
    return round(sum(widths) / len(widths))


def _server_env() -> dict[str, str]:
    # Nothing of the bench process's own configuration reaches a server (DB_POOL=false once
    # leaked in and the server opened a connection per request): production defaults only.
    return {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "DB_", "REDIS_"))}


@dataclass
class Stack:
    """gunicorn (production settings) on the bench database, Redis db REDIS_DB with its own prefix."""

    database: str
    workers: int
    log_path: Path
    baseline_width: int = 1500
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    server: str = PG_SERVER  # the PostgreSQL server holding `database`
    # What gunicorn serves, and the answer that says it is ready.
    wsgi_app: ClassVar[str] = "dispatch_site.wsgi:application"
    ready_path: ClassVar[str] = "/readyz"
    ready_status: ClassVar[int] = 200

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **_server_env(),
            "DJANGO_ENV": "production",
            "DJANGO_SETTINGS_MODULE": "bench.settings",  # the product's, plus /bench/baseline
            "SECRET_KEY": "bench-only-" + os.urandom(24).hex(),
            "SECURE_SSL_REDIRECT": "false",  # plain http on loopback
            "DATABASE_URL": f"{self.server}/{self.database}",
            "REDIS_URL": f"{REDIS_SERVER}/{REDIS_DB}",
            "CACHE_KEY_PREFIX": self.database,
            "BENCH_BASELINE_WIDTH": str(self.baseline_width),
            "BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(self.workers),
            "LOG_LEVEL": "info",
            # As bin/start runs it in production: metrics shared by the workers through files.
            "PROMETHEUS_MULTIPROC_DIR": str(self.log_path.parent / "prometheus"),
        }

    def start(self) -> None:
        self.port = free_port()
        (self.log_path.parent / "prometheus").mkdir(exist_ok=True)
        gunicorn = Path(sys.executable).parent / "gunicorn"
        log = self.log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our own server
            [str(gunicorn), "-c", "gunicorn.conf.py", self.wsgi_app],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base + self.ready_path, timeout=1) as response:  # noqa: S310
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                status = 0
            if status == self.ready_status:
                return
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not become ready")

    def worker_pids(self) -> set[int]:
        text = self.log_path.read_text()
        booted = {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", text)}
        exited = {int(pid) for pid in re.findall(r"Worker exiting \(pid: (\d+)\)", text)}
        return booted - exited

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def floor_env(database: str, *, server: str = PG_SERVER) -> dict[str, str]:
    """The environment of a process running the floor: its own settings and database; the bench
    process's DB_* settings pass through, as they reach the product's in-process figures."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    return {**keep, "DJANGO_SETTINGS_MODULE": "bench.floor.settings", "DATABASE_URL": f"{server}/{database}"}


def floor_migrate(database: str, *, server: str = PG_SERVER) -> None:
    """Create the floor's table in `database` (which exists), with the floor's own settings."""
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=floor_env(database, server=server),
        check=True,
    )


@dataclass
class FloorStack(Stack):
    """The floor (bench/floor/) under the product's gunicorn configuration and worker count.

    Production defaults for the pool, as the product's server gets. Ready when its one view
    answers a GET with 405 (it takes POST only): the server is up and its URLs are loaded."""

    wsgi_app: ClassVar[str] = "bench.floor.wsgi:application"
    ready_path: ClassVar[str] = "/floor"
    ready_status: ClassVar[int] = 405

    def env(self) -> dict[str, str]:
        return {
            **_server_env(),
            "DJANGO_SETTINGS_MODULE": "bench.floor.settings",
            "SECRET_KEY": "bench-only-" + os.urandom(24).hex(),
            "DATABASE_URL": f"{self.server}/{self.database}",
            "BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(self.workers),
            "LOG_LEVEL": "info",
        }


@dataclass(frozen=True)
class LoadFigures:
    endpoint: str
    connections: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    errors: int
    bytes_per_request: float


def lua_script(path: Path) -> Path:
    from bench.world import GRADE_BANDS, REGIONS, SUBJECTS

    def lua(values: list[str]) -> str:
        return ", ".join(f'"{v}"' for v in values)

    text = (ROOT / "bench" / "load.lua").read_text()
    text = text.replace("{SUBJECTS}", "{" + lua(SUBJECTS) + "}")
    text = text.replace("{GRADES}", "{" + lua(GRADE_BANDS) + "}")
    text = text.replace("{REGIONS}", "{" + lua(REGIONS) + "}")
    path.write_text(text)
    return path


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_SIZES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk_run(
    stack: Stack, *, endpoint: str, connections: int, seconds: float, script: Path, run_id: int, api_key: str = ""
) -> LoadFigures:
    """One wrk run (2 threads) against `endpoint`; parses throughput, latency percentiles, errors."""
    env = {**os.environ, "BENCH_PATH": endpoint, "BENCH_RUN": str(run_id), "BENCH_API_KEY": api_key}
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("needs wrk: apt-get install -y wrk")
    output = subprocess.run(  # noqa: S603
        [
            wrk,
            "-t2",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "--latency",
            "-s",
            str(script),
            stack.base + endpoint,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    transferred = re.search(r"requests in [\d.]+\w+, ([\d.]+)(B|KB|MB|GB) read", output)
    total_bytes = float(transferred.group(1)) * _SIZES[transferred.group(2)] if transferred else 0.0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return LoadFigures(
        endpoint=endpoint,
        connections=connections,
        requests_per_s=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(re.search(r"\s50%\s+(\S+)", output).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"\s99%\s+(\S+)", output).group(1)),  # type: ignore[union-attr]
        requests=requests,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
        bytes_per_request=total_bytes / requests if requests else 0.0,
    )
