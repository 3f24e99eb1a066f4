"""The studio's gunicorn (`studio --gunicorn`, `make serve`): clients that send their headers slowly
take a thread each, not a whole worker, so a normal request is still answered while they dawdle."""

import socket
import subprocess
import threading
import time

import pytest

from generation.management.commands.studio import gunicorn_command
from tests.helpers import cluster_env, wait_for
from tests.test_studio import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SLOW_CLIENTS = 4
# Each slow client sends a header line this often, for this long: both bounded.
HEADER_EVERY = 1.0
SLOW_FOR = 8.0


def slow_client(port: int, stop: threading.Event) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /accounts/login/ HTTP/1.1\r\nHost: localhost\r\n")
        deadline = time.monotonic() + SLOW_FOR
        while time.monotonic() < deadline and not stop.wait(HEADER_EVERY):
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                return


def get(port: int, *, timeout: float) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"GET /accounts/login/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return sock.recv(100)


def test_slow_clients_do_not_starve_the_web_server(settings, runway, tmp_path):
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("ab")
    server = subprocess.Popen(
        gunicorn_command(f"127.0.0.1:{port}", workers=2, threads=8),
        env=cluster_env(settings, runway),
        stdout=log,
        stderr=log,
        cwd=settings.BASE_DIR,
    )
    stop = threading.Event()
    clients = [threading.Thread(target=slow_client, args=(port, stop)) for _ in range(SLOW_CLIENTS)]
    try:
        wait_for(lambda: _answers(port), timeout=60, what="gunicorn to listen")
        for client in clients:
            client.start()
        time.sleep(2 * HEADER_EVERY)  # every slow client is connected and mid-headers

        # Twice as many slow clients as workers: sync workers would all be held by them now, and
        # this request would wait until they finish or time out.
        answer = get(port, timeout=SLOW_FOR / 2)

        assert answer.startswith(b"HTTP/1.1 "), answer
        assert any(client.is_alive() for client in clients)  # they were still sending
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=15)
        server.terminate()
        server.wait(timeout=30)


def _answers(port: int) -> bool:
    try:
        return get(port, timeout=2).startswith(b"HTTP/1.1 ")
    except OSError:
        return False
