"""The drills' load generator, run as its own process: `python -m drills.load CONFIG.json`.

Modes: `steady` sends POST /dispatch at a fixed rate (open loop: request i is due at i/rate s)
from a pool of threads, each with a fresh request id, while probe threads poll /readyz and
/healthz; `storm` releases ids x copies requests at once from a barrier (same id, same body
per group). Every response is one JSON line in `out`: kind, times, request id, status, and what
the drill needs to judge it (provider, error code, whether the body leaked internals).
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LEAK_MARKERS = ("Traceback", 'File "', "site-packages", "SECRET_KEY", "DATABASES", "/usr/lib/python", "psycopg")


class Target:
    def __init__(self, base: str, timeout: float):
        parts = urlsplit(base)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        except (OSError, http.client.HTTPException) as exc:
            return 0, {}, repr(exc).encode()
        finally:
            conn.close()


def judge(kind: str, status: int, headers: dict[str, str], raw: bytes, keep_body: bool) -> dict[str, Any]:
    text = raw.decode("utf-8", errors="replace")
    record: dict[str, Any] = {"k": kind, "s": status}
    try:
        data = json.loads(text)
        record["json"] = True
    except ValueError:
        data = None
        record["json"] = False
    if isinstance(data, dict):
        if status == 200 and kind in ("dispatch", "rl"):
            record["p"] = data.get("provider_id")
            record["r"] = data.get("region")
            record["bid"] = data.get("request_id")
        elif isinstance(data.get("error"), dict):
            record["code"] = data["error"].get("code")
    record["leak"] = any(marker in text for marker in LEAK_MARKERS)
    if headers.get("idempotent-replayed") == "true":
        record["rp"] = True
    if keep_body or (status != 200 and kind in ("dispatch", "rl")):
        record["body"] = text if keep_body else text[:300]
    return record


class Recorder:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def add(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.records.append(record)


def send_dispatch(
    target: Target,
    recorder: Recorder,
    kind: str,
    body: dict[str, Any],
    api_key: str | None,
    *,
    request_id: str,
    ctx: int,
    keep_body: bool = False,
) -> None:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Api-Key {api_key}"
    started = time.time()
    status, response_headers, raw = target.request(
        "POST", f"/dispatch?request_id={request_id}", json.dumps(body).encode(), headers
    )
    record = judge(kind, status, response_headers, raw, keep_body)
    record.update(t0=started, t1=time.time(), id=request_id, ctx=ctx)
    recorder.add(record)


def steady(config: dict[str, Any], target: Target, recorder: Recorder) -> None:
    contexts: list[dict[str, Any]] = config["contexts"]
    rate, duration = float(config["rate"]), float(config["duration"])
    start = time.time() + 0.2
    stop_at = start + duration
    counter = {"next": 0}
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                index = counter["next"]
                counter["next"] += 1
            due = start + index / rate
            if due >= stop_at:
                return
            time.sleep(max(0.0, due - time.time()))
            send_dispatch(
                target,
                recorder,
                "dispatch",
                contexts[index % len(contexts)],
                config.get("api_key"),
                request_id=str(uuid.uuid4()),
                ctx=index % len(contexts),
            )

    def probe(path: str, kind: str, offset: float) -> None:
        time.sleep(offset)
        while time.time() < stop_at:
            started = time.time()
            status, headers, raw = target.request("GET", path, None, {"Accept": "application/json"})
            record = judge(kind, status, headers, raw, keep_body=False)
            record.update(t0=started, t1=time.time())
            recorder.add(record)
            time.sleep(max(0.0, 3 * float(config.get("probe_interval", 0.25)) - (time.time() - started)))

    def rate_limit_probe(probe: dict[str, Any]) -> None:
        # One client with a small limit, sending a little faster than it: shows when 429s come back.
        interval = 1.0 / float(probe["rate"])
        body = contexts[0]
        while time.time() < stop_at:
            started = time.time()
            send_dispatch(target, recorder, "rl", body, probe["api_key"], request_id=str(uuid.uuid4()), ctx=0)
            time.sleep(max(0.0, interval - (time.time() - started)))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(int(config["threads"]))]
    # Three staggered probers per path: a probe stuck behind a slow answer does not blind the others.
    interval = float(config.get("probe_interval", 0.25))
    threads += [
        threading.Thread(target=probe, args=(f"/{k}", k, interval * j), daemon=True)
        for k in config.get("probes", [])
        for j in range(3)
    ]
    if config.get("rl_probe"):
        threads.append(threading.Thread(target=rate_limit_probe, args=(config["rl_probe"],), daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 120)


def storm(config: dict[str, Any], target: Target, recorder: Recorder) -> None:
    ids = [str(uuid.uuid4()) for _ in range(int(config["ids"]))]
    copies = int(config["copies"])
    body = config["contexts"][0]
    barrier = threading.Barrier(len(ids) * copies)

    def worker(request_id: str) -> None:
        barrier.wait(timeout=60)
        send_dispatch(
            target, recorder, "dispatch", body, config.get("api_key"), request_id=request_id, ctx=0, keep_body=True
        )

    threads = [threading.Thread(target=worker, args=(rid,), daemon=True) for rid in ids for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def main(config_path: str) -> int:
    config = json.loads(Path(config_path).read_text())
    target = Target(config["base"], timeout=float(config.get("timeout", 40)))
    recorder = Recorder()
    {"steady": steady, "storm": storm}[config["mode"]](config, target, recorder)
    with Path(config["out"]).open("w") as out:
        for record in recorder.records:
            out.write(json.dumps(record) + "\n")
    print(f"load: {len(recorder.records)} responses recorded")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
