"""The start banner's address and its ready line (issue 18, finding 9): the address is the one
gunicorn binds (BIND, or HOST:PORT), and "ready" is printed only once /readyz answers 200."""

from __future__ import annotations

import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from common.serving import announce, base_url, bind_address


@pytest.mark.parametrize(
    ("environ", "bind", "url"),
    [
        ({}, "127.0.0.1:8002", "http://127.0.0.1:8002"),
        ({"PORT": "8123"}, "127.0.0.1:8123", "http://127.0.0.1:8123"),
        ({"HOST": "0.0.0.0", "PORT": "9000"}, "0.0.0.0:9000", "http://127.0.0.1:9000"),  # noqa: S104
        ({"BIND": "10.1.2.3:8080", "PORT": "1"}, "10.1.2.3:8080", "http://10.1.2.3:8080"),
        ({"BIND": "[::]:8002"}, "[::]:8002", "http://127.0.0.1:8002"),
        ({"BIND": "unix:/run/mds.sock"}, "unix:/run/mds.sock", None),
        ({"BIND": "", "PORT": ""}, "127.0.0.1:8002", "http://127.0.0.1:8002"),
    ],
)
def test_the_address_is_the_one_gunicorn_binds(environ, bind, url):
    assert bind_address(environ) == bind
    assert base_url(environ) == url


def test_gunicorn_conf_reads_the_address_the_same_way(monkeypatch):
    for environ in ({}, {"PORT": "8123"}, {"HOST": "0.0.0.0", "PORT": "9000"}, {"BIND": "10.1.2.3:8080"}):  # noqa: S104
        for name in ("BIND", "HOST", "PORT"):
            monkeypatch.delenv(name, raising=False)
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        namespace: dict[str, object] = {}
        with open("gunicorn.conf.py") as conf:
            exec(compile(conf.read(), "gunicorn.conf.py", "exec"), namespace)  # noqa: S102 - our own config
        assert namespace["bind"] == bind_address(environ)


class _Readyz(BaseHTTPRequestHandler):
    status = 503

    def do_GET(self) -> None:
        self.send_response(type(self).status if self.path == "/readyz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_ready_is_printed_only_once_readyz_answers_200(capsys):
    handler: type[_Readyz] = type("Handler", (_Readyz,), {"status": 503})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        # Answering, but 503 (a worker up, the database not yet): not ready; the limit is the bound.
        assert announce(base, server_pid=os.getpid(), limit=0.5, interval=0.05) is False
        assert "Service ready" not in capsys.readouterr().out
        handler.status = 200
        assert announce(base, server_pid=os.getpid(), limit=5, interval=0.05) is True
        assert capsys.readouterr().out.startswith(f"Model Dispatch Service ready: {base}/")
    finally:
        server.shutdown()
        server.server_close()


def test_a_listening_socket_that_does_not_answer_is_not_ready(capsys):
    """What gunicorn looks like before a worker has loaded the app: the port accepts, nobody answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        base = f"http://127.0.0.1:{listener.getsockname()[1]}"
        assert announce(base, server_pid=os.getpid(), limit=0.5, interval=0.05) is False
    out = capsys.readouterr().out
    assert "Service ready" not in out and "still not answering" in out


def test_the_poller_stops_silently_when_the_server_is_gone(capsys):
    assert announce("http://127.0.0.1:9", server_pid=2**22 + 12345, limit=30) is False  # no such pid
    assert capsys.readouterr().out == ""
