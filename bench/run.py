"""The benchmark behind `make bench`: how the cost of every endpoint grows with the data.

For each scale it makes a fresh database (SQLite in var/, or a new PostgreSQL database beside the
one DATABASE_URL names), seeds it with `seed_demo`, then calls every endpoint of docs/API.md
in-process through Django's test client as the logged-in demo user, many times each, and
records the SQL queries per call, the latency and the time inside the database (db ms, and its
share of p50). It prints one table and writes it as JSON to var/bench.json. `--http` instead
drives `make run`'s gunicorn over HTTP with several clients and reports requests per second.

In-process, the scales are timed in turns, not one after the other. Each scale is a worker
process of its own (bench/measure.py); they are started one after the other (so that seeds do
not compete for the CPU), and once all have built their worlds they take turns: scenario by
scenario, `--chunk` calls at a time (warm-up calls included), each scale in turn, while the
others wait on their pipe, so that only one runs at any moment. A row's growth compares p50s
measured in the same few seconds, not minutes apart: a machine whose speed drifts during the
run (other jobs, the CPU's clock) slows every scale alike, where timed one after the other the
drift landed in the growth column (/healthz 2.02 ms at 10,000 users and 1.20 ms at 100,000 in
one such run, `/get_info` 1.41 and 2.80 ms in the same run, CPU per call flat). `--http` runs
the scales one after the other.

    python bench/run.py [--scales 10000,100000] [--friends 20] [--posts 10] [--calls 40] [--chunk 5]
    python bench/run.py --http [--scales 10000] [--concurrency 8] [--seconds 5] [--port 5055]
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import budgets, measure  # noqa: E402
from bench.common import (  # noqa: E402
    ROOT,
    VAR,
    child_environment,
    prepare_database,
    print_table,
    require_free_port,
)


def main():
    args = parse_args()
    if args.worker:
        measure.run_worker(args)
        return

    scales = [int(scale) for scale in args.scales.split(",")]
    if args.http:
        require_free_port(args.port)
    VAR.mkdir(exist_ok=True)
    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    database = "postgresql" if on_postgres else "sqlite"
    if args.http:
        results = []
        for scale in scales:
            url = prepare_database(f"bench-{scale}", reuse=args.reuse)
            results.append(run_scale(args, scale, url))
        report_http(scales, results, Path(args.out).with_name("bench-http.json"))
    else:
        urls = [prepare_database(f"bench-{scale}", reuse=args.reuse) for scale in scales]
        results = measure_in_turns(args, scales, urls)
        report(database, scales, results, Path(args.out), budgets_enforced=not args.no_budgets)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="10000,100000", help="users per scale, comma-separated")
    parser.add_argument("--friends", type=int, default=20)
    parser.add_argument("--posts", type=int, default=10)
    parser.add_argument("--comments", type=int, default=1)
    parser.add_argument("--calls", type=int, default=40, help="timed calls per endpoint")
    parser.add_argument(
        "--chunk", type=int, default=5, help="in-process: calls per turn of a scale's worker"
    )
    parser.add_argument("--reuse", action="store_true", help="reuse a seeded database if present")
    parser.add_argument("--http", action="store_true", help="measure over HTTP with gunicorn")
    parser.add_argument("--concurrency", type=int, default=8, help="--http: parallel clients")
    parser.add_argument("--seconds", type=float, default=5, help="--http: seconds per endpoint")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("BENCH_PORT", "5055")),
        help="--http: gunicorn's port (BENCH_PORT; default 5055, beside make run's 5000)",
    )
    parser.add_argument(
        "--no-budgets",
        action="store_true",
        help="print the budgets missed but exit 0 (a smoke run at a scale the budgets are not for)",
    )
    parser.add_argument("--out", default=str(VAR / "bench.json"))
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--turns", type=_fds, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _fds(value):
    go, done = value.split(",")
    return int(go), int(done)


def run_scale(args, scale, url):
    """--http: one scale's worker, run to its end."""
    out = _temporary_json()
    command = worker_command(args, scale, out)
    subprocess.run(command, env=child_environment(url), cwd=ROOT, check=True)
    result = json.loads(Path(out).read_text())
    Path(out).unlink()
    return result


def _temporary_json():
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        return handle.name


def worker_command(args, scale, out):
    command = [
        sys.executable,
        str(Path(__file__)),
        "--worker",
        str(scale),
        "--out",
        out,
        "--friends",
        str(args.friends),
        "--posts",
        str(args.posts),
        "--comments",
        str(args.comments),
        "--calls",
        str(args.calls),
        "--chunk",
        str(args.chunk),
        "--concurrency",
        str(args.concurrency),
        "--seconds",
        str(args.seconds),
        "--port",
        str(args.port),
    ]
    if args.reuse:
        command.append("--reuse")
    if args.http:
        command.append("--http")
    return command


def measure_in_turns(args, scales, urls):
    """In-process: one worker per scale, each started once the one before is ready, then timed
    in turns (the module's docstring); their results, in the order of `scales`."""
    with contextlib.ExitStack() as stack:
        workers = []
        for scale, url in zip(scales, urls, strict=True):
            workers.append(stack.enter_context(TurnTaker(args, scale, url)))
            plan = workers[-1].wait_ready()
        for worker in workers:
            if worker.plan != plan:
                sys.exit(
                    f"The bench workers of {workers[0].scale:,} and {worker.scale:,} users "
                    "have different scenarios: they cannot take turns."
                )
        for step in plan:
            for worker in workers:
                worker.take_turn(step)
        return [worker.result() for worker in workers]


class TurnTaker:
    """run.py's side of one worker's turns (bench/measure.py Turns): its process and two pipes,
    GO (run.py writes `go`) and DONE (the worker answers). A worker that exits closes DONE, so
    run.py, reading it, fails naming the scale instead of waiting; leaving the `with` block ends
    a worker still running (when another failed)."""

    def __init__(self, args, scale, url):
        self.scale, self.plan = scale, None
        self.out = _temporary_json()
        go_read, go_write = os.pipe()
        done_read, done_write = os.pipe()
        command = [*worker_command(args, scale, self.out), "--turns", f"{go_read},{done_write}"]
        try:
            self.process = subprocess.Popen(
                command, env=child_environment(url), cwd=ROOT, pass_fds=(go_read, done_write)
            )
        finally:
            os.close(go_read)
            os.close(done_write)
        self._go = os.fdopen(go_write, "w", buffering=1)
        self._done = os.fdopen(done_read, "r")

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self._go, self._done):
            with contextlib.suppress(OSError):  # BrokenPipeError flushing to a dead worker
                pipe.close()
        Path(self.out).unlink(missing_ok=True)

    def wait_ready(self):
        """Wait for the worker to be seeded and to have built its world; its plan of turns."""
        self.plan = json.loads(self._answer("ready"))
        return self.plan

    def take_turn(self, step):
        """Give the worker its turn at `step` ([scenario, chunk index]); back when it is done."""
        try:
            self._go.write("go\n")
        except BrokenPipeError:
            self._died(f"before its turn at {step}")
        answered = json.loads(self._answer("done"))
        if answered != step:
            sys.exit(f"The bench worker of {self.scale:,} users took turn {answered}, not {step}.")

    def result(self):
        """Its JSON result, once it has exited."""
        if self.process.wait() != 0:
            self._died("after its last turn")
        return json.loads(Path(self.out).read_text())

    def _answer(self, word):
        line = self._done.readline()
        if not line:
            self._died(f"instead of answering {word!r}")
        answer, _, rest = line.rstrip("\n").partition(" ")
        if answer != word:
            sys.exit(f"The bench worker of {self.scale:,} users said {line!r}, not {word!r}.")
        return rest

    def _died(self, when):
        status = self.process.wait()
        sys.exit(
            f"The bench worker of {self.scale:,} users exited with status {status} {when} "
            "(its error, if any, is above)."
        )


def _ratio(large, small):
    return round(large / small, 2) if small else None


def _percent(part, whole):
    return round(100 * part / whole, 1) if whole else None


def report(database, scales, results, out, *, budgets_enforced=True):
    names = list(results[0]["endpoints"])
    healthz = [result["endpoints"]["GET /healthz"]["p50_ms"] for result in results]
    rows = []
    for name in names:
        cells = [result["endpoints"][name] for result in results]
        rows.append(
            {
                "endpoint": name,
                "queries": [cell["queries"] for cell in cells],
                "p50_ms": [cell["p50_ms"] for cell in cells],
                "p95_ms": [cell["p95_ms"] for cell in cells],
                "db_ms": [cell["db_ms"] for cell in cells],
                "db_share_pct": [_percent(cell["db_ms"], cell["p50_ms"]) for cell in cells],
                "growth_p50": _ratio(cells[-1]["p50_ms"], cells[0]["p50_ms"]),
                "vs_healthz_p50": [
                    _ratio(cell["p50_ms"], health)
                    for cell, health in zip(cells, healthz, strict=True)
                ],
                "failures": [cell["failures"] for cell in cells],
            }
        )
    out.write_text(
        json.dumps(
            {
                "database": database,
                "scales": scales,
                "seed": results[0]["seed"],
                "endpoints": rows,
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    scale_names = " / ".join(f"{scale:,}" for scale in scales)
    print(f"\nsocialsite bench on {database}, scales {scale_names} users ({results[0]['seed']})\n")
    lines = []
    for row in rows:
        queries = "/".join(str(q) for q in row["queries"])
        p50 = " / ".join(f"{value:.2f}" for value in row["p50_ms"])
        p95 = " / ".join(f"{value:.2f}" for value in row["p95_ms"])
        db_ms = " / ".join(f"{value:.2f}" for value in row["db_ms"])
        db_share = " / ".join(
            f"{value:.0f}%" if value is not None else "-" for value in row["db_share_pct"]
        )
        growth = f"{row['growth_p50']:.2f}" if row["growth_p50"] is not None else "-"
        vs = row["vs_healthz_p50"][-1]
        flag = "  FAILURES " + str(row["failures"]) if any(row["failures"]) else ""
        lines.append(
            [
                row["endpoint"],
                queries,
                p50,
                p95,
                db_ms,
                db_share,
                growth,
                vs if vs is not None else "-",
                flag,
            ]
        )
    print_table(
        [
            ("endpoint", "34"),
            ("queries", ">9"),
            ("p50 ms", ">15"),
            ("p95 ms", ">15"),
            ("db ms", ">15"),
            ("db share", ">11"),
            ("growth", ">7"),
            ("×healthz", ">9"),
        ],
        lines,
    )
    print(f"\nWritten to {out}")
    if any(any(row["failures"]) for row in rows):
        sys.exit("Some calls did not get their expected status: see FAILURES above.")
    missed = budgets.missed(rows)
    print("\nBudgets (bench/budgets.py): " + (f"{len(missed)} missed" if missed else "all met"))
    for line in missed:
        print(f"  MISSED {line}")
    if missed and budgets_enforced:
        sys.exit(f"{len(missed)} budget(s) missed: see MISSED above.")


def report_http(scales, results, out):
    out.write_text(json.dumps({"scales": scales, "results": results}, ensure_ascii=False, indent=2))
    for scale, result in zip(scales, results, strict=True):
        print(
            f"\nHTTP, {scale:,} users, {result['concurrency']} clients, gunicorn "
            f"{result['workers']} workers, SERVER={result['server']}\n"
        )
        print_table(
            [
                ("endpoint", "34"),
                ("req/s", ">8.1f"),
                ("p50 ms", ">8.2f"),
                ("p95 ms", ">8.2f"),
                ("failures", ">8"),
            ],
            [
                [name, row["rps"], row["p50_ms"], row["p95_ms"], row["failures"]]
                for name, row in result["endpoints"].items()
            ],
            rule=False,
        )
    print(f"\nWritten to {out}")
    if any(row["failures"] for result in results for row in result["endpoints"].values()):
        sys.exit("Some requests failed or did not get their expected status: see failures above.")


if __name__ == "__main__":
    main()
