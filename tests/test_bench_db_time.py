"""The bench's db ms column (bench/measure.py DatabaseTime, bench/run.py): the time really spent
inside the database, on every alias, counted while the block runs and no longer after."""

import io
import json
import time

import pytest
from django.core.management import call_command
from django.db import connection, connections

from bench.measure import DatabaseTime, measure_in_process
from bench.run import report

pytestmark = pytest.mark.django_db

# SQLite computes this count in one step of execute: a few tenths of a second.
SLOW_SQLITE = (
    "WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers"
    " WHERE n < 400000) SELECT count(*) FROM numbers"
)
# Its first row is 1, then one per 100,000 numbers: execute returns with the first, and the
# recursion runs as the others are fetched.
SLOW_SQLITE_ROWS = (
    "WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers"
    " WHERE n < 400000) SELECT n FROM numbers WHERE n = 1 OR n % 100000 = 0"
)
SLEEP_SECONDS = 0.2


def slow_statement(alias="default"):
    """Run a statement that spends a known time in the database; return the seconds it took
    (from execute to the fetched rows: not connecting, which the cursor does first)."""
    with connections[alias].cursor() as cursor:
        started = time.perf_counter()
        if connections[alias].vendor == "sqlite":
            cursor.execute(SLOW_SQLITE)
        else:
            cursor.execute("SELECT pg_sleep(%s)", [SLEEP_SECONDS])
        cursor.fetchall()
        return time.perf_counter() - started


def test_the_time_of_a_slow_statement_is_counted():
    with DatabaseTime() as database:
        took = slow_statement()
        time.sleep(0.1)  # outside the database: not counted
    assert took > 0.05, "the statement must be slow enough to tell"
    if connection.vendor != "sqlite":
        assert database.seconds >= SLEEP_SECONDS
    # Within the statement's own time, less only Django's cursor set-up around it.
    assert 0.9 * took <= database.seconds <= took
    assert database.ms == pytest.approx(database.seconds * 1000)


def test_rows_fetched_after_execute_returns_are_counted():
    """On SQLite execute computes rows up to the first; on PostgreSQL a server-side cursor (as
    QuerySet.iterator() uses) runs the statement as its rows are fetched."""
    with DatabaseTime() as database:
        if connection.vendor == "sqlite":
            cursor = connection.cursor()
            cursor.execute(SLOW_SQLITE_ROWS)
        else:
            cursor = connection.chunked_cursor()
            cursor.execute("SELECT pg_sleep(%s) FROM generate_series(1, 5)", [SLEEP_SECONDS / 5])
        executed = database.seconds
        started = time.perf_counter()
        rows = [cursor.fetchone(), *cursor.fetchmany(1), *cursor]
        fetched = time.perf_counter() - started
        cursor.close()
    assert len(rows) == 5
    assert fetched > 0.05 and fetched > 2 * executed, "most of the work is in the fetches"
    assert database.seconds - executed >= 0.9 * fetched


def test_several_statements_and_executemany_are_summed():
    # Made before the timing: allocating them can start a garbage collection, outside the database.
    updates = [("x", n) for n in range(5_000)]
    with DatabaseTime() as database:
        took = slow_statement() + slow_statement()
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.executemany("UPDATE accounts_user SET introduction = %s WHERE id = %s", updates)
            took += time.perf_counter() - started
    assert 0.9 * took <= database.seconds <= took


# The replica (tests/settings.py) is another connection to the test database: on SQLite both would
# hold a test transaction, and the second to begin one waits on the first's lock.
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_every_alias_is_timed():
    assert "replica" in {db.alias for db in connections.all()}
    with DatabaseTime() as database:
        took = slow_statement("replica")
    assert 0.9 * took <= database.seconds <= took


def test_the_wrappers_are_removed_afterwards_even_after_an_error():
    def wrappers():
        return {db.alias: list(db.execute_wrappers) for db in connections.all()}

    before = wrappers()
    with pytest.raises(RuntimeError), DatabaseTime() as database:
        assert all(len(now) == len(before[alias]) + 1 for alias, now in wrappers().items())
        slow_statement()
        raise RuntimeError("the block fails")
    counted = database.seconds
    slow_statement()
    assert database.seconds == counted
    assert wrappers() == before


def test_the_bench_table_carries_db_ms_and_db_share(tmp_path, capsys):
    """A small seeded database, every endpoint once (bench/measure.py), and the report."""
    call_command("seed_demo", users=60, friends=4, posts=2, comments=1, stdout=io.StringIO())
    endpoints = measure_in_process(1)
    out = tmp_path / "bench.json"
    # The budgets are for the default scales (tests/test_bench_budgets.py), not for 60 users.
    report(
        "test", [60], [{"endpoints": endpoints, "seed": "60 users"}], out, budgets_enforced=False
    )
    rows = {row["endpoint"]: row for row in json.loads(out.read_text())["endpoints"]}
    for row in rows.values():
        (db_ms,), (p50,), (share,) = row["db_ms"], row["p50_ms"], row["db_share_pct"]
        # with Redis as the cache, /get_yzm sends the database nothing
        assert (0 < db_ms < p50) if row["queries"] != [0] else db_ms == 0, row
        assert share == round(100 * db_ms / p50, 1)
    assert rows["GET /recommend"]["db_ms"][0] > rows["GET /healthz"]["db_ms"][0]
    printed = capsys.readouterr().out
    assert "db ms" in printed and "db share" in printed
    share = f"{rows['GET /healthz']['db_share_pct'][0]:.0f}%"
    assert any(line.startswith("GET /healthz") and share in line for line in printed.splitlines())


def test_statements_are_counted_as_captured_queries_would_be():
    """The table's query count comes from DatabaseTime (Django's CaptureQueriesContext formats
    every statement inside the timed call): the same number, an executemany counting one."""
    from django.test.utils import CaptureQueriesContext

    with (
        CaptureQueriesContext(connection) as captured,
        DatabaseTime() as database,
        connection.cursor() as cursor,
    ):
        cursor.execute("CREATE TEMPORARY TABLE counted (n integer)")
        cursor.execute("SELECT %s", [2])
        cursor.executemany("INSERT INTO counted VALUES (%s)", [[3], [4]])
    assert database.statements == len(captured) == 3
