"""The indexes behind /get_data's substring filters: trigram indexes on PostgreSQL — and that the
same migration leaves SQLite alone, where no index can serve a substring and the search walks
the users in the order of its answer instead."""

import pytest
from django.db import connection

from accounts.models import User
from friends.queries import search_queryset

pytestmark = pytest.mark.django_db

TRIGRAM_INDEXES = {
    "accounts_user_username_trgm",
    "accounts_user_like_trgm",
    "accounts_user_flike_trgm",
}
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


def test_trigram_indexes_exist_exactly_on_postgresql():
    if connection.vendor == "postgresql":
        assert user_indexes() >= TRIGRAM_INDEXES
    else:
        assert not TRIGRAM_INDEXES & user_indexes()


@pytest.mark.parametrize("field", ["username", "like", "flike"])
def test_substring_filters_use_their_indexes(field, user):
    # Three characters: a shorter term has no trigram, so the index would return every row for
    # rechecking (PostgreSQL may still pick it; it just doesn't narrow anything).
    term = "羽毛球"
    if connection.vendor != "postgresql":
        plan = search_queryset(user, **{field: term}).explain()
        steps = [line.split(maxsplit=3)[-1] for line in plan.splitlines()]
        for step in SQLITE_SEARCH_PLAN:
            assert step in steps, plan
        return
    query = User.objects.filter(**{f"{field}__icontains": term})
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    assert f"accounts_user_{field}_trgm" in query.explain()
