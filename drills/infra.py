"""Private, throw-away services for the drills: a PostgreSQL cluster, a Redis and gunicorn.

The drills stop and restart databases, so they never touch the machine's shared PostgreSQL
(5432) or Redis (6379): each run initialises its own cluster and Redis on free ports in a
temporary directory and removes them at the end, also on failure (`Stack` is a context manager).
As in production, the cluster has two roles: the owner migrates, the servers run as the service
(docs/security.md, "Database roles"); the drills' own SQL runs as the cluster's superuser.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import psycopg

ROOT = Path(__file__).resolve().parent.parent
OWNER_ROLE, SERVICE_ROLE = "mds_owner", "mds_service"
_PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
PG_BIN = Path(os.environ.get("DRILL_PG_BIN") or (_PG_BINS[-1] if _PG_BINS else "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class PrivatePostgres:
    def __init__(self, workdir: Path):
        self.dir = workdir / "pg"
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()

    def url(self, database: str, role: str = "postgres") -> str:
        return f"postgres://{role}@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.start()
        # The owner may create databases: the drills' pytest runs create their test databases with it.
        self.sql(f"CREATE ROLE {OWNER_ROLE} LOGIN CREATEDB")
        self.sql(f"CREATE ROLE {SERVICE_ROLE} LOGIN")

    def _ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]), check=True, timeout=timeout)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._ctl("-o", options, "-l", str(self.log), "-w", "-t", "60", "start", timeout=90)

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "-t", "60", "stop", timeout=90)

    def accepting(self) -> bool:
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=1):
                return True
        except psycopg.Error:
            return False

    def sql(self, statement: str, database: str = "postgres") -> list[tuple]:
        with psycopg.connect(self.url(database), autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(statement)  # the drills' own fixed statements
            return cur.fetchall() if cur.description else []

    def shutdown(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._ctl("-m", "immediate", "-w", "stop", timeout=30)


class PrivateRedis:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.log = workdir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


class Gunicorn:
    """gunicorn under production settings (>= 4 sync workers) on a free port."""

    def __init__(self, workdir: Path, name: str, database_url: str, redis_url: str, workers: int = 4):
        self.port = free_port()
        self.log = workdir / f"gunicorn-{name}.log"
        self.env = {
            **without_callers_database(os.environ),
            "DJANGO_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": f"drill-{name}",
            "BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_ACCESS_LOG": "",
            "LOG_LEVEL": "INFO",
            "DEBUG": "false",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.proc = subprocess.Popen(
            [str(gunicorn), "-c", "gunicorn.conf.py", "dispatch_site.wsgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(f"{self.base}/readyz", timeout=2) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# The caller's (e.g. .ci/run's) database settings: its owner URL names another cluster, and its test
# tuning (a 60 s statement timeout for the suite) would make a drill measure something other than the
# production defaults the drills are about (a drill's bounds are derived from its server's settings).
_CALLERS_DATABASE = {
    "DATABASE_OWNER_URL",
    "DATABASE_TEST_NAME",
    "DB_STATEMENT_TIMEOUT_MS",
    "DB_POOL",
    "DB_POOL_MIN_SIZE",
    "DB_POOL_MAX_SIZE",
    "DB_POOL_TIMEOUT",
    "DB_CONNECT_TIMEOUT",
}


def without_callers_database(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without the caller's database settings (its owner URL, its test tuning)."""
    return {key: value for key, value in env.items() if key not in _CALLERS_DATABASE}


def manage(
    *args: str, database_url: str, owner_url: str = "", check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """manage.py on a drill database; `env` (e.g. a server's) replaces the development defaults.

    `owner_url`: the owner role's URL (migrate); without it, the command has DATABASE_URL's role only."""
    env = {
        # A server's own env is used as it is (it was built without the caller's database settings).
        **(
            env
            if env is not None
            else without_callers_database({**os.environ, "DJANGO_ENV": "development", "REDIS_URL": ""})
        ),
        "DATABASE_URL": database_url,
        **({"DATABASE_OWNER_URL": owner_url} if owner_url else {}),
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=check,
        capture_output=True,
        text=True,
        timeout=300,
    )


class Stack:
    """One private PostgreSQL (with a migrated, seeded template database) and one Redis."""

    TEMPLATE = "drill_template"

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="mds-drills-"))
        self.workdir.chmod(0o755)  # the postgres user must reach its data directory inside
        self.pg = PrivatePostgres(self.workdir)
        self.redis = PrivateRedis(self.workdir)
        self.servers: list[Gunicorn] = []

    def __enter__(self) -> Stack:
        try:
            self.pg.init()
            self.redis.start()
            self.pg.sql(f"CREATE DATABASE {self.TEMPLATE} OWNER {OWNER_ROLE}")
            service_url = self.pg.url(self.TEMPLATE, SERVICE_ROLE)
            manage("migrate", "--noinput", database_url=service_url, owner_url=self.pg.url(self.TEMPLATE, OWNER_ROLE))
            manage("seed_demo", database_url=service_url)
            # The drills test the service, not the providers' quotas: lift the demo's 60 req/min.
            self.pg.sql(
                "UPDATE model_providers SET requests_per_minute = 1000000, tokens_per_minute = 1000000000",
                self.TEMPLATE,
            )
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def database(self, name: str) -> str:
        """A fresh copy of the seeded template (tables and grants included); the service role's URL."""
        self.pg.sql(f"CREATE DATABASE {name} TEMPLATE {self.TEMPLATE} OWNER {OWNER_ROLE}")
        return self.pg.url(name, SERVICE_ROLE)

    def gunicorn(self, name: str, database_url: str, workers: int = 4) -> Gunicorn:
        server = Gunicorn(self.workdir, name, database_url, self.redis.url, workers=workers)
        self.servers.append(server)
        server.start()
        return server

    def close(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()
        with contextlib.suppress(Exception):
            self.redis.stop()
        self.pg.shutdown()
        if os.environ.get("DRILL_KEEP_LOGS"):
            print(f"drill logs kept in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
