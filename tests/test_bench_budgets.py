"""The budgets `make bench` holds the endpoints to (bench/budgets.py), and run.py failing when
one is missed (the measurement itself runs from make, not in the suite)."""

import pytest

from bench import budgets
from bench.run import report


def row(endpoint, p50_ms, *, healthz_ms=1.0, queries=(3, 3)):
    small, large = p50_ms
    return {
        "endpoint": endpoint,
        "queries": list(queries),
        "p50_ms": [small, large],
        "p95_ms": [small, large],
        "growth_p50": round(large / small, 2),
        "vs_healthz_p50": [round(small / healthz_ms, 2), round(large / healthz_ms, 2)],
        "failures": [0, 0],
    }


@pytest.mark.parametrize(
    ("endpoint", "budget"),
    [
        ("GET /get_friend_post", 5),
        ("GET /get_friend_post?before=", 5),
        ("GET /get_info (other)", 3),
        ("GET /get_data?sex=", 3),
        ("GET /recommend?start=", 15),
        ("GET /get_data?username=", None),
        ("POST /login", None),
        ("POST /register2", None),
        ("GET /set_friend", 4),
        ("GET /get_yzm", 4),
        ("POST /send_msg", 4),
        ("GET /healthz", None),
    ],
)
def test_each_kind_of_row_has_its_budget(endpoint, budget):
    assert budgets.vs_healthz_budget(endpoint) == budget


def test_rows_within_their_budgets_miss_nothing():
    rows = [
        row("GET /healthz", (1.0, 1.0)),
        row("GET /get_friend_post", (4.0, 5.0)),
        row("GET /get_info (other)", (2.0, 3.0)),
        row("POST /login", (100.0, 140.0)),
    ]
    assert budgets.missed(rows) == []


def test_a_ratio_over_its_budget_a_growth_and_a_query_count_that_changes_are_named():
    rows = [
        row("GET /get_friend_post", (5.0, 5.1)),
        row("GET /get_info (other)", (1.0, 2.0)),
        row("GET /get_chats", (1.0, 1.2), queries=(2, 3)),
    ]
    assert budgets.missed(rows) == [
        "GET /get_friend_post: 5.1× /healthz (budget 5×)",
        "GET /get_info (other): growth 2.0 (budget 1.5)",
        "GET /get_chats: 2 / 3 queries (the same at every scale)",
    ]


def results_of(rows):
    """run.py's worker results for two scales, from rows made by `row`."""
    return [
        {
            "seed": "test",
            "endpoints": {
                r["endpoint"]: {
                    "queries": r["queries"][scale],
                    "p50_ms": r["p50_ms"][scale],
                    "p95_ms": r["p95_ms"][scale],
                    "db_ms": r["p50_ms"][scale] / 2,  # half of each call in the database
                    "failures": 0,
                }
                for r in rows
            },
        }
        for scale in (0, 1)
    ]


def test_run_exits_non_zero_naming_the_missed_budget(tmp_path, capsys):
    results = results_of([row("GET /healthz", (1.0, 1.0)), row("GET /get_info", (3.0, 3.5))])
    with pytest.raises(SystemExit) as exit_:
        report("sqlite", [10, 100], results, tmp_path / "bench.json")
    assert "1 budget(s) missed" in str(exit_.value)
    assert "MISSED GET /get_info: 3.5× /healthz (budget 3×)" in capsys.readouterr().out


def test_without_enforcement_run_prints_the_misses_and_exits_zero(tmp_path, capsys):
    results = results_of([row("GET /healthz", (1.0, 1.0)), row("GET /get_info", (3.0, 3.5))])
    report("sqlite", [10, 100], results, tmp_path / "bench.json", budgets_enforced=False)
    assert "MISSED GET /get_info: 3.5× /healthz (budget 3×)" in capsys.readouterr().out


def test_run_within_the_budgets_exits_zero(tmp_path, capsys):
    results = results_of([row("GET /healthz", (1.0, 1.0)), row("GET /get_info", (2.0, 2.5))])
    report("sqlite", [10, 100], results, tmp_path / "bench.json")
    assert "Budgets (bench/budgets.py): all met" in capsys.readouterr().out
