"""Throw-away Redis ACL users on the test Redis, and the rules docker-compose.yml gives the service.

A test creates a user with a unique name (`ACL SETUSER`) and deletes it afterwards, so the
suite proves the service works through a password-protected, least-privilege user exactly as
docker-compose.yml configures one.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import redis
import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
# What the reviewer had: read and write any key, list keys; nothing else.
ATTACKER_RULES = ("on", "resetchannels", "-@all", "+get", "+set", "+scan", "+select")


@dataclass(frozen=True)
class RedisUser:
    name: str
    password: str
    url: str  # the test Redis's URL with this user's credentials


def with_credentials(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port or 6379}"
    return urlunsplit(parts._replace(netloc=netloc))


def compose_service_rules() -> list[str]:
    """The ACL rules docker-compose.yml gives the service's Redis user, but its password and key
    pattern (a test substitutes its own)."""
    command = yaml.safe_load(COMPOSE.read_text())["services"]["redis"]["command"]
    user = command.index("dispatch")
    assert command[user - 1] == "--user", command
    rules = []
    for rule in command[user + 1 :]:
        if rule.startswith("--"):
            break
        if not rule.startswith((">", "~")):
            rules.append(rule)
    return rules


@contextmanager
def redis_user(url: str, *, keys: str, rules: Sequence[str]) -> Iterator[RedisUser]:
    """A new ACL user on the Redis at `url` (reached with its own credentials), deleted afterwards."""
    admin = redis.Redis.from_url(url)
    name = f"mds-test-{uuid.uuid4().hex[:12]}"
    password = secrets.token_hex(16)
    admin.execute_command("ACL", "SETUSER", name, "reset", f">{password}", f"~{keys}", *rules)
    try:
        yield RedisUser(name, password, with_credentials(url, name, password))
    finally:
        admin.execute_command("ACL", "DELUSER", name)
        admin.close()
