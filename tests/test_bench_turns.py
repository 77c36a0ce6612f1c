"""bench/run.py's turns (measure_in_turns): the workers of all scales are alive at once and are
timed in turn, a few calls at a time, one at any moment, so that the machine's drift during the
run falls on every scale alike instead of landing in the growth column.

Real workers (bench/measure.py), each with its own small SQLite database in tmp_path, whatever
database the suite runs on: the turns do not depend on it."""

import pytest

from bench import run

SCALES = (200, 300)


@pytest.fixture
def worker_environment(monkeypatch):
    """The workers' settings are the bench's (socialsite.settings), not the suite's, and each has
    its own cache: the table in its database (a Redis that CACHE_URL names would be shared)."""
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    monkeypatch.delenv("CACHE_URL", raising=False)


def bench_args(*extra):
    return run.parse_args(["--friends", "3", "--posts", "2", "--comments", "1", *extra])


def test_the_scales_take_turns_a_chunk_at_a_time(tmp_path, worker_environment):
    # 2 timed calls after 3 warm-up calls: chunks of 2, 2 and 1 calls per scenario.
    args = bench_args("--calls", "2", "--chunk", "2")
    urls = [f"sqlite:///{tmp_path}/bench-{scale}.sqlite3" for scale in SCALES]
    results = run.measure_in_turns(args, list(SCALES), urls)

    assert [result["seed"].split(" users")[0] for result in results] == ["200", "300"]
    small, large = (result["endpoints"] for result in results)
    assert list(small) == list(large) and "GET /healthz" in small
    assert {
        name: row["failures"] for name, row in {**small, **large}.items() if row["failures"]
    } == {}

    # Each worker's turns: every scenario in three chunks, in order.
    expected = [[name, index] for name in small for index in range(3)]
    for result in results:
        assert [turn[:2] for turn in result["turns"]] == expected
    # All turns of both, by the time they started: the scales alternate, turn after turn, and
    # each turn ends before the next one starts (one worker runs at any moment).
    turns = sorted(
        (started, ended, scale, name, index)
        for scale, result in zip(SCALES, results, strict=True)
        for name, index, started, ended in result["turns"]
    )
    assert [scale for _, _, scale, _, _ in turns] == list(SCALES) * len(expected)
    assert [(name, index) for _, _, _, name, index in turns[::2]] == [tuple(e) for e in expected]
    for (_, ended, *_), (started, *_) in zip(turns, turns[1:], strict=False):
        assert ended <= started


def test_a_worker_that_dies_fails_the_run_naming_its_scale(tmp_path, worker_environment):
    """Its database cannot be made (a directory that does not exist): the worker exits before it
    is ready, and run.py exits saying so rather than waiting for it; the worker already ready is
    ended."""
    args = bench_args("--calls", "1")
    urls = [f"sqlite:///{tmp_path}/bench-200.sqlite3", f"sqlite:///{tmp_path}/none/bench.sqlite3"]
    with pytest.raises(SystemExit) as exit_:
        run.measure_in_turns(args, list(SCALES), urls)
    message = str(exit_.value)
    assert message.startswith("The bench worker of 300 users exited with status 1 ")
    assert "instead of answering 'ready'" in message
