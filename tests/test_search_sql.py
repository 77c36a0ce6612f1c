"""/get_data's raw SQL (friends.queries.search_page): the statement a request sends reads the
indexes that test_search_indexes names, and what it finds is what Django's lookups find, for
every combination of filters and for the values an attacker sends (%, _, \\, quotes)."""

import random
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from friends import queries, services
from tests.factories import body

pytestmark = pytest.mark.django_db

DATE_JOINED_INDEX = "accounts_user_date_joined_2338479f"
BLOCK_LOOKUPS = [
    "SEARCH friends_block USING COVERING INDEX sqlite_autoindex_friends_block_1 (blocker_id=?)",
    "SEARCH friends_block USING COVERING INDEX block_blocked_blocker (blocked_id=?)",
]


def found(api, **filters):
    response = api.get(
        "/get_data", {"email": "alice@example.com", "start": 0, "limit": 100, **filters}
    )
    data = body(response)
    assert data["status"] == 1008, data
    return [profile["email"] for profile in data["data"]]


def search_plan(api, **filters):
    """The plan of the page's statement that a /get_data request sends: SQLite's steps (EXPLAIN
    QUERY PLAN), PostgreSQL's text (EXPLAIN)."""
    with CaptureQueriesContext(connection) as captured:
        found(api, **filters)
    page = [query["sql"] for query in captured if 'FROM "accounts_user"' in query["sql"]]
    (sql,) = [sql for sql in page if "ORDER BY" in sql]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return [row[-1] for row in cursor.fetchall()]
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


# PostgreSQL plans by the table's size and statistics: enough users that reading them all costs
# more than an index.
POSTGRESQL_USERS = 20_000


@pytest.fixture
def many(user):
    """On PostgreSQL POSTGRESQL_USERS users born in 1950 (and analyzed); none on SQLite, which
    plans without statistics."""
    if connection.vendor == "postgresql":
        User.objects.bulk_create(
            User(email=f"many{n}@example.com", username=f"many{n}", birthday=date(1950, 1, 1))
            for n in range(POSTGRESQL_USERS)
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


@pytest.mark.parametrize("field", ["username", "like", "flike", "location"])
def test_a_substring_filter_reads_its_trigram_index_or_the_date_joined_order(api, field):
    if connection.vendor == "postgresql":
        # The expression the search compares is the one the index is on: the index serves the
        # condition alone (whether the page reads it is the planner's choice, by the data).
        (condition,) = queries.search_conditions(connection, {field: "羽毛球"})
        assert condition.sql.startswith(f'UPPER("accounts_user"."{field}"::text) LIKE'), condition
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(
                f'EXPLAIN SELECT 1 FROM "accounts_user" WHERE {condition.sql}', condition.params
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert f"accounts_user_{field}_trgm" in plan, plan
        return
    plan = search_plan(api, **{field: "羽毛球"})
    assert f"SCAN accounts_user USING INDEX {DATE_JOINED_INDEX}" in plan, plan
    assert all(step in plan for step in BLOCK_LOOKUPS), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


@pytest.mark.parametrize("order", ["", "newest"])
def test_the_page_is_read_in_date_joined_order_without_a_sort(api, many, order):
    plan = search_plan(api, order=order, sex="女")
    if connection.vendor == "postgresql":
        scan = "Index Scan Backward using" if order else "Index Scan using"
        assert f"{scan} accounts_user_date_joined" in plan, plan
        return
    assert f"SCAN accounts_user USING INDEX {DATE_JOINED_INDEX}" in plan, plan
    assert all(step in plan for step in BLOCK_LOOKUPS), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


def test_femail_is_a_look_up_of_the_email_index(api, many, make_user):
    make_user(email="eve@example.com")
    plan = search_plan(api, femail="EVE@example.com")
    if connection.vendor == "postgresql":
        assert "accounts_user_email" in plan, plan
        return
    assert "SEARCH accounts_user USING INDEX sqlite_autoindex_accounts_user_1 (email=?)" in plan


@pytest.mark.parametrize("wide", [False, True])
def test_an_age_range_reads_the_birthday_index_or_checks_the_date_joined_order(
    api, many, monkeypatch, wide
):
    """Fewer birthdays in the range than AGE_RANGE_READ: a range of the birthday index; more:
    the users read in date_joined order, each checked (the birthday in a form no index serves)."""
    today = timezone.localdate()
    User.objects.bulk_create(
        User(email=f"thirty{n}@example.com", birthday=today - timedelta(days=365 * 30))
        for n in range(5)
    )
    monkeypatch.setattr(queries, "AGE_RANGE_READ", 3 if wide else 1000)
    plan = search_plan(api, age1=25, age2=35)
    if connection.vendor == "postgresql":
        if wide:
            assert "Index Scan using accounts_user_date_joined" in plan, plan
            assert "COALESCE(birthday)" in plan, plan
        else:
            assert "accounts_user_birthday" in plan, plan
        return
    if wide:
        assert f"SCAN accounts_user USING INDEX {DATE_JOINED_INDEX}" in plan, plan
        assert not any("TEMP B-TREE" in step for step in plan), plan
        return
    by_birthday = (
        "SEARCH accounts_user USING INDEX accounts_user_birthday (birthday>? AND birthday<?)"
    )
    assert by_birthday in plan, plan


ATTACKS = [
    "%",
    "_",
    "a%b",
    "a_b",
    "\\",
    "\\%",
    "'",
    "o'neil",
    '"',
    "'; DELETE FROM accounts_user; --",
    "%(viewer)s",
    "%s",
    "ÉMILE",
    "émile",
    "İ",
    "x",
]


@pytest.fixture
def tricky(user, make_user):
    """Users whose text holds what LIKE and SQL treat specially."""
    texts = [
        "a%b",
        "axb",
        "a_b",
        "back\\slash",
        "100%",
        "o'neil",
        'say "hi"',
        "Émile",
        "émile",
        "%(viewer)s",
        "%s",
        "İstanbul",
        "plain",
    ]
    for number, text in enumerate(texts):
        make_user(
            email=f"t{number}@example.com", username=text, like=text, flike=text, location=text
        )
    make_user(email="o'neil@example.com", username="quoted")


@pytest.mark.parametrize("field", ["username", "like", "flike", "location"])
@pytest.mark.parametrize("term", ATTACKS)
def test_a_substring_finds_what_icontains_finds(api, tricky, field, term):
    """Each value is a parameter, its LIKE wildcards escaped, and the case folded as Django's
    icontains folds it on this database (PostgreSQL: UPPER; SQLite: LIKE, ASCII only)."""
    expected = (
        User.objects.filter(**{f"{field}__icontains": term})
        .exclude(email="alice@example.com")
        .order_by("date_joined", "id")
        .values_list("email", flat=True)
    )
    assert found(api, **{field: term}) == list(expected)
    assert User.objects.count() == 15


def test_femail_with_a_quote_is_an_exact_value(api, tricky):
    assert found(api, femail="O'Neil@example.com") == ["o'neil@example.com"]
    assert found(api, femail="neil@example.com") == []


def age_reached(birthday, today):
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


@pytest.mark.parametrize("seed", range(4))
def test_every_combination_of_filters_finds_what_the_rules_say(
    api, user, make_user, monkeypatch, seed
):
    """Random users and random combinations of every filter, paged, both orders, with the age
    range read either way (AGE_RANGE_READ): the same users as the rules computed in Python."""
    rng = random.Random(seed)
    today = timezone.localdate()
    words = ["篮球", "音乐", "Beijing", "北京", "a_b", "50%", "o'k"]
    people, now = [], timezone.now()
    for number in range(40):
        person = make_user(
            email=f"p{number}@example.com",
            username=rng.choice(["Dan", "dana", "EVE", "a_b", "axb", ""]),
            sex=rng.choice(["男", "女", "其他", ""]),
            like=" ".join(rng.sample(words, 2)),
            flike=rng.choice(words),
            location=rng.choice(words + [""]),
            birthday=rng.choice([None, today - timedelta(days=rng.randrange(0, 365 * 70))]),
        )
        person.date_joined = now - timedelta(minutes=rng.randrange(5))  # many ties
        person.save(update_fields=["date_joined"])
        people.append(person)
    hidden = rng.sample(people, 6)
    User.objects.filter(pk=hidden[0].pk).update(is_active=False)
    services.block(user, hidden[1])
    services.block(hidden[2], user)
    hidden_emails = {person.email for person in hidden[:3]}
    found_someone = 0
    for _ in range(40):
        filters = {}
        for name, values in [
            ("femail", [person.email.upper() for person in rng.sample(people, 2)]),
            ("username", ["a", "_", "DAN", "x"]),
            ("sex", ["男", "女", "其他"]),
            ("like", ["篮", "%", "o'k", "音乐"]),
            ("flike", ["北京", "beijing", "_b"]),
            ("location", ["京", "50%", "'"]),
        ]:
            if rng.random() < 0.3:
                filters[name] = rng.choice(values)
        if rng.random() < 0.5:
            filters["age1"] = rng.randrange(0, 40)
        if rng.random() < 0.5:
            filters["age2"] = filters.get("age1", 0) + rng.randrange(0, 40)
        order = rng.choice(["", "oldest", "newest"])
        monkeypatch.setattr(queries, "AGE_RANGE_READ", rng.choice([1, 1000]))

        def matches(person, filters=filters):
            text_filters = ["username", "like", "flike", "location"]
            return (
                person.email not in hidden_emails
                and person.email == filters.get("femail", person.email).lower()
                and person.sex == filters.get("sex", person.sex)
                and all(
                    filters[name].lower() in getattr(person, name).lower()
                    for name in text_filters
                    if name in filters
                )
                and (
                    ("age1" not in filters and "age2" not in filters)
                    or (
                        person.birthday is not None
                        and filters.get("age1", 0)
                        <= age_reached(person.birthday, today)
                        <= filters.get("age2", 10**9)
                    )
                )
            )

        expected = sorted(
            (person for person in people if matches(person)),
            key=lambda person: (person.date_joined, person.pk),
            reverse=order == "newest",
        )
        expected = [person.email for person in expected]
        start, limit = rng.randrange(3), rng.randrange(1, 6)
        paged = found(api, **filters, order=order, start=start, limit=limit)
        assert paged == expected[start : start + limit], (filters, order, start, limit)
        assert found(api, **filters, order=order) == expected, (filters, order)
        found_someone += bool(expected)
    assert found_someone >= 10, found_someone  # the combinations are not all of nobody


def test_an_age_no_one_reaches_sends_no_search(api, make_user):
    make_user(email="old@example.com", birthday=date(1, 1, 1))
    with CaptureQueriesContext(connection) as captured:
        assert found(api, age1=10**6) == []
    searches = [query for query in captured if 'FROM "accounts_user"' in query["sql"]]
    assert not searches, searches
    assert found(api, age1=0, age2=10**6) == ["old@example.com"]
