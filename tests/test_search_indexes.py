"""The trigram indexes behind /get_data's substring filters (PostgreSQL) — and that the same
migration leaves SQLite alone."""

import pytest
from django.db import connection

from accounts.models import User

pytestmark = pytest.mark.django_db

TRIGRAM_INDEXES = {
    "accounts_user_username_trgm",
    "accounts_user_like_trgm",
    "accounts_user_flike_trgm",
}


def user_indexes():
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, User._meta.db_table))


def test_trigram_indexes_exist_exactly_on_postgresql():
    if connection.vendor == "postgresql":
        assert user_indexes() >= TRIGRAM_INDEXES
    else:
        assert not TRIGRAM_INDEXES & user_indexes()


@pytest.mark.parametrize("field", ["username", "like", "flike"])
def test_substring_filters_can_use_them(field):
    # Three characters: a shorter term has no trigram, so the index would return every row for
    # rechecking (PostgreSQL may still pick it; it just doesn't narrow anything).
    query = User.objects.filter(**{f"{field}__icontains": "羽毛球"})
    if connection.vendor != "postgresql":
        assert "SCAN" in query.explain()  # no index serves a substring on SQLite
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    assert f"accounts_user_{field}_trgm" in query.explain()
