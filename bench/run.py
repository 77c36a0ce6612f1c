"""The benchmark behind `make bench`: how the cost of every endpoint grows with the data.

For each scale it makes a fresh database (SQLite in var/, or a new PostgreSQL database beside the
one DATABASE_URL names), seeds it with `seed_demo`, then calls every endpoint of docs/API.md
in-process through Django's test client as the logged-in demo user, many times each, and
records the SQL queries per call, the latency and the time inside the database (db ms, and its
share of p50). It prints one table and writes it as JSON to var/bench.json. `--http` instead
drives `make run`'s gunicorn over HTTP with several clients and reports requests per second.

    python bench/run.py [--scales 10000,100000] [--friends 20] [--posts 10] [--calls 40]
    python bench/run.py --http [--scales 10000] [--concurrency 8] [--seconds 5] [--port 5055]
"""

import argparse
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="10000,100000", help="users per scale, comma-separated")
    parser.add_argument("--friends", type=int, default=20)
    parser.add_argument("--posts", type=int, default=10)
    parser.add_argument("--comments", type=int, default=1)
    parser.add_argument("--calls", type=int, default=40, help="timed calls per endpoint")
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
    args = parser.parse_args()
    if args.worker:
        measure.run_worker(args)
        return

    scales = [int(scale) for scale in args.scales.split(",")]
    if args.http:
        require_free_port(args.port)
    VAR.mkdir(exist_ok=True)
    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    database = "postgresql" if on_postgres else "sqlite"
    results = []
    for scale in scales:
        url = prepare_database(f"bench-{scale}", reuse=args.reuse)
        results.append(run_scale(args, scale, url))
    if args.http:
        report_http(scales, results, Path(args.out).with_name("bench-http.json"))
    else:
        report(database, scales, results, Path(args.out), budgets_enforced=not args.no_budgets)


def run_scale(args, scale, url):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
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
    subprocess.run(command, env=child_environment(url), cwd=ROOT, check=True)
    result = json.loads(Path(out).read_text())
    Path(out).unlink()
    return result


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
