"""`make run`'s channel layer on a machine without Redis (socialsite/embedded_valkey.py): a private
Valkey on a unix socket for as long as the wrapped command runs, keeping nothing on disk."""

import os
import socket
import subprocess
import sys

import pytest
from django.conf import settings

from socialsite import embedded_valkey

# The wrapped command: it reports the URL it was given and whether the server answers there.
CHILD = (
    "import os, sys; from socialsite import embedded_valkey as v; "
    "url = os.environ.get('CHANNEL_LAYER_URL', ''); "
    "print(url, v.answers(url.removeprefix('unix://')) if url.startswith('unix://') else '-'); "
    "sys.exit(3)"
)


def wrap(socket_path, **environment):
    env = {name: value for name, value in os.environ.items() if name != "CHANNEL_LAYER_URL"}
    command = [sys.executable, "-m", "socialsite.embedded_valkey", "--socket", str(socket_path)]
    return subprocess.run(
        [*command, sys.executable, "-c", CHILD],
        cwd=settings.BASE_DIR,
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_runs_beside_a_private_server_which_stops_with_it(tmp_path):
    socket_path = tmp_path / "v.sock"
    finished = wrap(socket_path)
    assert finished.returncode == 3, finished.stderr  # the command's own status
    assert finished.stdout.split() == [f"unix://{socket_path}", "True"]
    assert not socket_path.exists()
    assert not embedded_valkey.answers(socket_path)


def test_with_a_channel_layer_url_nothing_is_started(tmp_path):
    socket_path = tmp_path / "v.sock"
    finished = wrap(socket_path, CHANNEL_LAYER_URL="redis://redis.internal:6379/2")
    assert finished.returncode == 3, finished.stderr
    assert finished.stdout.split() == ["redis://redis.internal:6379/2", "-"]
    assert not socket_path.exists()


def test_it_keeps_nothing_on_disk(tmp_path):
    socket_path = tmp_path / "v.sock"
    with embedded_valkey.running(socket_path) as url:
        assert url == f"unix://{socket_path}"
        assert embedded_valkey.answers(socket_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_a_second_server_on_a_socket_in_use_is_refused(tmp_path):
    socket_path = tmp_path / "v.sock"
    with embedded_valkey.running(socket_path):
        second = embedded_valkey.running(socket_path)
        with pytest.raises(RuntimeError, match="already answers"), second:
            pass
        assert embedded_valkey.answers(socket_path)


def command(socket_path, line):
    """One inline command to the server on `socket_path`; its reply's first line."""
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(2)
        connection.connect(str(socket_path))
        connection.sendall(line.encode() + b"\r\n")
        return connection.recv(64).split(b"\r\n")[0]


def test_a_server_stopped_and_started_again_answers_at_the_same_address_empty(tmp_path):
    """The fault tests take the channel layer away from a running site and give it back."""
    socket_path = tmp_path / "v.sock"
    with embedded_valkey.Server(socket_path) as server:
        assert server.url == f"unix://{socket_path}"
        assert command(socket_path, "SET kept before") == b"+OK"
        server.stop()
        assert not embedded_valkey.answers(socket_path)
        assert not socket_path.exists()
        server.stop()  # stopping a stopped server changes nothing
        server.start()
        assert embedded_valkey.answers(socket_path)
        assert command(socket_path, "GET kept") == b"$-1"  # nothing kept across the restart
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    assert not embedded_valkey.answers(socket_path)
    assert not socket_path.exists()
