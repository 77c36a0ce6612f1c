"""The indexes behind /get_data's filters: trigram indexes for the substring filters on
PostgreSQL — and that the same migrations leave SQLite alone, where no index can serve a
substring and the search walks the users in the order of its answer instead — and the birthday
index behind `age1` / `age2` on both."""

from datetime import date

import pytest
from django.db import connection

from accounts.models import User
from friends.queries import age_between, search_queryset

pytestmark = pytest.mark.django_db

SUBSTRING_FIELDS = ["username", "like", "flike", "location"]
TRIGRAM_INDEXES = {f"accounts_user_{field}_trgm" for field in SUBSTRING_FIELDS}
# On SQLite, what EXPLAIN QUERY PLAN says of the search's tables: the users are read in
# date_joined order from its index (no sort of every match for each page), and the blocks either
# way are looked up by index.
SQLITE_SEARCH_PLAN = [
    "SCAN accounts_user USING INDEX accounts_user_date_joined_2338479f",
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
