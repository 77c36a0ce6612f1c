"""The indexes behind /get_data's filters: trigram indexes for the substring filters on
PostgreSQL — and that the same migrations leave SQLite alone, where no index can serve a
substring and the search walks the users in the order of its answer instead — and the birthday
index behind `age1` / `age2` on both."""

import re
from datetime import date

import pytest
from django.db import connection

from accounts.models import User
from friends.queries import AGE_RANGE_READ, age_between, age_condition, search_queryset

pytestmark = pytest.mark.django_db

SUBSTRING_FIELDS = ["username", "like", "flike", "location"]
TRIGRAM_INDEXES = {f"accounts_user_{field}_trgm" for field in SUBSTRING_FIELDS}
# On SQLite, what EXPLAIN QUERY PLAN says of the search's tables: the users are read in
# date_joined order from its index (no sort of every match for each page), and the blocks either
# way are looked up by index.
DATE_JOINED_INDEX = "accounts_user_date_joined_2338479f"
SQLITE_SEARCH_PLAN = [
    f"SCAN accounts_user USING INDEX {DATE_JOINED_INDEX}",
    "SEARCH U0 USING COVERING INDEX sqlite_autoindex_friends_block_1 (blocker_id=?)",
    "SEARCH U0 USING COVERING INDEX block_blocked_blocker (blocked_id=?)",
]


def user_indexes():
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, User._meta.db_table))


def sqlite_steps(queryset):
    return [line.split(maxsplit=3)[-1] for line in queryset.explain().splitlines()]


def test_trigram_indexes_exist_exactly_on_postgresql():
    if connection.vendor == "postgresql":
        assert user_indexes() >= TRIGRAM_INDEXES
    else:
        assert not TRIGRAM_INDEXES & user_indexes()


@pytest.mark.parametrize("field", SUBSTRING_FIELDS)
def test_substring_filters_use_their_indexes(field, user):
    # Three characters: a shorter term has no trigram, so the index would return every row for
    # rechecking (PostgreSQL may still pick it; it just doesn't narrow anything).
    term = "羽毛球"
    if connection.vendor != "postgresql":
        steps = sqlite_steps(search_queryset(user, **{field: term}))
        for step in SQLITE_SEARCH_PLAN:
            assert step in steps, steps
        return
    query = User.objects.filter(**{f"{field}__icontains": term})
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    assert f"accounts_user_{field}_trgm" in query.explain()


def test_newest_first_reads_the_date_joined_index_backwards(user):
    if connection.vendor != "postgresql":
        steps = sqlite_steps(search_queryset(user, order="newest"))
        for step in SQLITE_SEARCH_PLAN:
            assert step in steps, steps
        assert not any("TEMP B-TREE" in step for step in steps), steps
        return
    query = User.objects.order_by("-date_joined", "-id")[:21]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    assert "Index Scan Backward using accounts_user_date_joined" in query.explain()


# PostgreSQL plans by the table's size: enough users that reading them all costs more than
# an index (a small table is read whole).
POSTGRESQL_USERS = 20_000


@pytest.mark.parametrize("wide", [False, True])
def test_the_search_reads_a_narrow_age_range_by_birthday_and_a_wide_one_in_date_order(user, wide):
    """Fewer birthdays in the range than AGE_RANGE_READ: read from the birthday index and
    sorted; more: the users are read in date_joined order (no sort of every match), each
    checked."""
    on_postgresql = connection.vendor == "postgresql"
    in_range = (POSTGRESQL_USERS if on_postgresql else AGE_RANGE_READ + 200) if wide else 30
    others = POSTGRESQL_USERS if on_postgresql else 0
    birthdays = [date(1995, 3, 1)] * in_range + [date(1950, 1, 1)] * others
    User.objects.bulk_create(
        User(email=f"u{n}@example.com", birthday=birthday) for n, birthday in enumerate(birthdays)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    found = User.objects.filter(age_condition(25, 35, date(2025, 6, 15)))
    assert found.count() == in_range
    page = found.order_by("date_joined", "id")[:21]
    if not on_postgresql:
        steps = sqlite_steps(page)
        if not wide:
            by_birthday = "SEARCH accounts_user USING INDEX accounts_user_birthday"
            assert any(step.startswith(by_birthday) for step in steps), steps
            return
        assert f"SCAN accounts_user USING INDEX {DATE_JOINED_INDEX}" in steps, steps
        assert not any("TEMP B-TREE" in step for step in steps), steps
        return
    plan = page.explain()
    if not wide:
        assert "accounts_user_birthday" in plan, plan
        return
    assert "Index Scan using accounts_user_date_joined" in plan, plan
    # at most the ties of one date_joined sorted by id (that index has no id): no Sort node
    assert not re.search(r"(?<!Incremental )Sort  \(", plan), plan
    assert "Incremental Sort" not in plan or "Presorted Key: date_joined" in plan, plan


def test_an_age_range_is_a_range_of_the_birthday_index(user):
    assert "accounts_user_birthday" in user_indexes()
    ages = User.objects.filter(age_between(20, 30, date(2025, 6, 15)))
    if connection.vendor != "postgresql":
        steps = sqlite_steps(ages)
        birthday_range = "USING INDEX accounts_user_birthday (birthday>? AND birthday<?)"
        assert f"SEARCH accounts_user {birthday_range}" in steps, steps
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = ages.explain()
    assert "accounts_user_birthday" in plan, plan
    assert "Index Cond: ((birthday <= '2005-06-15'::date) AND (birthday > '1994-06-15'::date))" in (
        plan
    ), plan
