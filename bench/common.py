"""What the bench modules share: the paths, the databases they make, the environment of the
processes they start, the port check, percentiles and the tables they print.

run.py, measure.py and loadtest.py import this module; it imports none of them."""

import os
import socket
import statistics
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"


def require_free_port(port):
    """Refuse a port something already listens on (say `make run`), rather than measure that."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            sys.exit(f"Port {port} is in use: choose another with --port or BENCH_PORT.")


def prepare_database(label, *, reuse=False):
    """A database URL for `label` (e.g. "bench-10000"): SQLite var/<label>.sqlite3, or a database
    named <name>_<label> beside the one DATABASE_URL names; fresh unless --reuse and it exists."""
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith("postgres"):
        parts = urlsplit(base)
        name = f"{parts.path.lstrip('/') or 'socialsite'}_{label.replace('-', '_')}"
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if exists and not reuse:
                connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            if not exists or not reuse:
                connection.execute(f'CREATE DATABASE "{name}"')
        return urlunsplit(parts._replace(path=f"/{name}"))
    path = VAR / f"{label}.sqlite3"
    if not reuse:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def child_environment(url):
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-not-for-production"),
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(ROOT),
    }


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summarize(samples_ms):
    return {
        "p50_ms": round(statistics.median(samples_ms), 3),
        "p95_ms": round(percentile(samples_ms, 0.95), 3),
    }


def print_table(columns, rows, *, rule=True):
    """Print `rows` under a header line. `columns` are (title, spec) pairs, spec the format spec of
    the column's cells: an alignment and a width, then optionally a precision and a type (">8",
    ">8.2f"); the title takes the alignment and the width. Cells past the last column are
    appended as they are (a flag). A rule of dashes goes under the header unless rule=False."""
    header = " ".join(format(title, spec.split(".")[0]) for title, spec in columns)
    print(header)
    if rule:
        print("-" * len(header))
    for row in rows:
        cells = zip(columns, row[: len(columns)], strict=True)
        print(
            " ".join(format(cell, spec) for (_, spec), cell in cells)
            + "".join(str(extra) for extra in row[len(columns) :])
        )
