"""Reads of the friends app (API.md, "Friends"): lists, the user search and recommendations.
The writes are in services.py.

Recommendations (/recommend; README.md, "Friends, search and recommendations") come in two
stages, as recommenders are built, both in one SQL statement: candidate generation picks a
bounded pool with index range scans (friends of friends; users among the newest accounts who
share a tag, have the same flike or match a searched-for interest; the newest users), then the
pool is ranked exactly. Ranking everyone would cost a scan of all users per call, growing with
the site; the pool keeps the cost flat.

Friends of friends go only through mutual friendships, on both sides (API.md, /recommend): a
one-way add needs no consent, so a list that counted it would show anyone whom the added user
lists."""

from datetime import MINYEAR

from django.db import connections, router
from django.db.models import (
    BooleanField,
    Exists,
    OuterRef,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import User
from friends.models import (
    Block,
    Friendship,
    SearchField,
)
from socialsite.api import page_from
from socialsite.orm import columns, read_instances


def unblocked_sql(user_column, viewer):
    """SQL for the read modules' raw queries: `user_column` names no one whom `viewer` (a
    placeholder such as "%(viewer)s") blocked or who blocked `viewer`, as Block's unblocked_q:
    two NOT IN ranges of the block table's two indexes."""
    return f"""{user_column} NOT IN (SELECT "blocked_id" FROM "friends_block"
                                     WHERE "blocker_id" = {viewer})
        AND {user_column} NOT IN (SELECT "blocker_id" FROM "friends_block"
                                  WHERE "blocked_id" = {viewer})"""


def block_between_sql(one, other):
    """SQL for the raw queries: whether either of the users that `one` and `other` name (the
    placeholders "%(one)s", "%(other)s") blocked the other, as Block.objects.between: two
    look-ups of the unique (blocker, blocked) index."""
    return f"""EXISTS (SELECT 1 FROM "friends_block"
                      WHERE ("blocker_id" = {one} AND "blocked_id" = {other})
                         OR ("blocker_id" = {other} AND "blocked_id" = {one}))"""


_BLOCKED_EITHER_WAY = f"SELECT {block_between_sql('%(one)s', '%(other)s')}"


def blocked_either_way(one_id, other_id):
    """Whether either of the users `one_id` and `other_id` blocked the other (block_between_sql),
    on the primary (the writes that ask decide by it)."""
    with connections[router.db_for_write(Block)].cursor() as cursor:
        cursor.execute(_BLOCKED_EITHER_WAY, {"one": one_id, "other": other_id})
        return bool(cursor.fetchone()[0])


# /get_friends, /get_followers and /get_blocks read their rows in SQL written here and make the
# instances from them (socialsite.orm.read_instances): compiling the ORM's queries cost more than
# running them. Values are parameters; the rules are the QuerySet methods' (the list's order,
# with_active_friend, Block's unblocked_q), written once more and tested by the same tests.
_FRIEND_LIST = f"""SELECT {columns(Friendship)}, {columns(User)}
FROM "friends_friendship" INNER JOIN "accounts_user"
  ON "accounts_user"."id" = "friends_friendship"."friend_id"
WHERE "friends_friendship"."owner_id" = %(owner)s AND "accounts_user"."is_active"
ORDER BY "friends_friendship"."created_at", "friends_friendship"."id"
"""


def _read(sql, params, *models):
    return read_instances(connections[router.db_for_read(models[0])], sql, params, *models)


_LISTED_FRIEND_COUNT = """SELECT COUNT(*) FROM "friends_friendship"
INNER JOIN "accounts_user" ON "accounts_user"."id" = "friends_friendship"."friend_id"
WHERE "friends_friendship"."owner_id" = %(owner)s AND "accounts_user"."is_active"
"""


def listed_friend_count(owner):
    """/get_info's `friend_count` (accounts.extensions.owner_counts): the entries of `owner`'s
    list whose friend is active, as /get_friends lists them."""
    with connections[router.db_for_read(Friendship)].cursor() as cursor:
        cursor.execute(_LISTED_FRIEND_COUNT, {"owner": owner.pk})
        return cursor.fetchone()[0]


def friend_list(owner):
    """/get_friends: `owner`'s entries, friend selected, in the order first added; entries of
    deactivated friends are hidden."""
    entries = []
    for entry, friend in _read(_FRIEND_LIST, {"owner": owner.pk}, Friendship, User):
        entry.friend = friend
        entries.append(entry)
    return entries


def list_entry(owner, femail):
    """/is_friend: `owner`'s entry for the active user `femail` names (with `mutual`), or None."""
    friend = User.objects.active().with_email(femail).first()
    return friend and Friendship.objects.entry(owner, friend)


def followers(owner):
    """/get_followers: the entries of the active users who list `owner` and are not blocked
    either way, newest first (the index on friend, created_at, id read backwards), each with
    its follower selected and `mutual`: whether `owner` lists them too."""
    owner_lists_them = Friendship.objects.filter(owner=owner, friend=OuterRef("owner"))
    return (
        Friendship.objects.filter(friend=owner, owner__is_active=True)
        .filter(Block.objects.unblocked_q(owner, "owner"))
        .annotate(mutual=Exists(owner_lists_them))
        .select_related("owner")
        .order_by("-created_at", "-id")
    )


_FOLLOWERS_PAGE = f"""SELECT {columns(Friendship)}, {columns(User)},
       EXISTS (SELECT 1 FROM "friends_friendship" AS "back"
               WHERE "back"."owner_id" = %(owner)s
                 AND "back"."friend_id" = "friends_friendship"."owner_id") AS "mutual"
FROM "friends_friendship" INNER JOIN "accounts_user"
  ON "accounts_user"."id" = "friends_friendship"."owner_id"
WHERE "friends_friendship"."friend_id" = %(owner)s AND "accounts_user"."is_active"
  AND {unblocked_sql('"friends_friendship"."owner_id"', "%(owner)s")}
ORDER BY "friends_friendship"."created_at" DESC, "friends_friendship"."id" DESC
LIMIT %(rows)s OFFSET %(start)s"""


def followers_page(owner, *, start, limit):
    """A page of /get_followers (with `has_more`), the entries of `followers` (the follower
    selected, `mutual`): one query."""
    params = {"owner": owner.pk, "rows": limit + 1, "start": start}
    entries = []
    for entry, follower, mutual in _read(_FOLLOWERS_PAGE, params, Friendship, User):
        entry.owner, entry.mutual = follower, mutual
        entries.append(entry)
    return page_from(entries, limit)


_NEW_FOLLOWER_COUNT = f"""SELECT COUNT(*) FROM "friends_friendship"
INNER JOIN "accounts_user" ON "accounts_user"."id" = "friends_friendship"."owner_id"
WHERE "friends_friendship"."friend_id" = %(owner)s AND "accounts_user"."is_active"
  AND {unblocked_sql('"friends_friendship"."owner_id"', "%(owner)s")}
  AND ("friends_friendship"."created_at" > (SELECT "seen_until" FROM "friends_followersseen"
                                            WHERE "user_id" = %(owner)s)
       OR NOT EXISTS (SELECT 1 FROM "friends_followersseen" WHERE "user_id" = %(owner)s))"""


def new_follower_count(owner):
    """/get_badges' `followers`: the followers of /get_followers who added `owner` after the
    newest one its first page last showed `owner` (all of them if it never did). One query, a
    range of friendship_friend_added."""
    with connections[router.db_for_read(Friendship)].cursor() as cursor:
        cursor.execute(_NEW_FOLLOWER_COUNT, {"owner": owner.pk})
        return cursor.fetchone()[0]


_BLOCKS_PAGE = f"""SELECT {columns(Block)}, {columns(User)}
FROM "friends_block" INNER JOIN "accounts_user"
  ON "accounts_user"."id" = "friends_block"."blocked_id"
WHERE "friends_block"."blocker_id" = %(blocker)s AND "accounts_user"."is_active"
ORDER BY "friends_block"."created_at" DESC, "friends_block"."id" DESC
LIMIT %(rows)s OFFSET %(start)s"""


def blocks_page(blocker, *, start, limit):
    """A page of /get_blocks (with `has_more`): the blocks `blocker` made of users who are still
    active, newest first (the index on blocker, created_at, id read backwards), the blocked user
    selected. One query."""
    params = {"blocker": blocker.pk, "rows": limit + 1, "start": start}
    blocks = []
    for block, blocked in _read(_BLOCKS_PAGE, params, Block, User):
        block.blocked = blocked
        blocks.append(block)
    return page_from(blocks, limit)


def years_before(day, years):
    """The date `years` years before `day` (a 29 February becomes the 28th in a common year),
    or None when no date is that early."""
    year = day.year - years
    if year < MINYEAR:
        return None
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February, and `year` has none
        return day.replace(year=year, day=28)


# /get_data reads its page in SQL composed here: fixed fragments, one for each filter present,
# joined with AND; every value is a parameter (%s, in the order of the fragments). Building and
# compiling the ORM's query cost several times running it. The rules are the ORM's, written
# once more: User's visible_to (active, not blocked either way: unblocked_sql), never the
# viewer, and Django's lookups as each database makes them (`connection.operators`): an email
# or sex is equal; a substring is icontains, on PostgreSQL `UPPER(column::text) LIKE UPPER(%s)`,
# the very expression the trigram indexes are on (friends migrations 0004 and 0006), on SQLite
# `column LIKE %s ESCAPE '\'` (case-insensitive for ASCII only), the term's % _ and \ escaped.


def _search_connection():
    return connections[router.db_for_read(User)]


def _condition(sql, params):
    """A condition on "accounts_user" in SQL, with its parameters (`.sql`, `.params`): the raw
    search joins these, and the ORM can filter on them too (search_queryset)."""
    return RawSQL(sql, params, output_field=BooleanField())


_NOBODY = "1 = 0"


def _birthday(connection, *, indexed):
    """The birthday column; not `indexed`: in a form that no index serves, so that the planner
    reads the rows in the order of the answer's index and checks the condition on each (SQLite:
    a unary +, its documented way; PostgreSQL: COALESCE of the one value)."""
    column = '"accounts_user"."birthday"'
    if indexed:
        return column
    return f"+{column}" if connection.vendor == "sqlite" else f"COALESCE({column})"


def age_between(age1, age2, today, *, indexed=True, connection=None):
    """A condition on users (_condition): the age they reach by `today` is at least `age1` and
    at most `age2` (None: no bound, but never under 0), as a range of birthdays (that the
    birthday index serves, unless not `indexed`). Someone has reached age n when their birthday
    is on or before the date n years ago: a 29 February birthday counts from 1 March in a common
    year, as (month, day) compares. A bound further back than the first date means nobody (age1)
    or no bound (age2); users without a birthday never match. In the SQL of `connection` (by
    default the one the ORM reads users from)."""
    latest = years_before(today, age1 or 0)
    if latest is None:
        return _condition(_NOBODY, [])
    connection = connection or _search_connection()
    birthday, day = _birthday(connection, indexed=indexed), connection.ops.adapt_datefield_value
    sql, params = f"{birthday} <= %s", [day(latest)]
    earliest_excluded = None if age2 is None else years_before(today, age2 + 1)
    if earliest_excluded is not None:
        sql, params = f"{sql} AND {birthday} > %s", [*params, day(earliest_excluded)]
    return _condition(sql, params)


# How many birthdays of an age range the search reads through the birthday index at most: a
# range with fewer is read from that index and sorted; a wider one is checked on the users read
# in the order of the answer, of whom (with at least this share matching) a page takes at most
# (start + limit + 1) × users ÷ AGE_RANGE_READ. Either way the cost is bounded, whereas sorting
# every match of a wide range (what SQLite, which keeps no statistics of ranges, would plan)
# grows with the site.
AGE_RANGE_READ = 1000


def age_condition(age1, age2, today, connection=None):
    """age_between, with the birthday index when the range holds fewer than AGE_RANGE_READ
    birthdays: one index-only query of at most that many entries decides (none for nobody)."""
    connection = connection or _search_connection()
    in_range = age_between(age1, age2, today, connection=connection)
    if in_range.sql == _NOBODY:
        return in_range
    sql = f"""SELECT COUNT(*) FROM (SELECT "accounts_user"."id" FROM "accounts_user"
                          WHERE {in_range.sql} LIMIT %s) AS "in_range" """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*in_range.params, AGE_RANGE_READ])
        few = cursor.fetchone()[0] < AGE_RANGE_READ
    if few:
        return in_range
    return age_between(age1, age2, today, indexed=False, connection=connection)


# /get_data's filters that compare a column: (filter, column, Django's lookup), in the form's order
_COMPARED = [
    ("femail", "email", "exact"),
    ("username", "username", "icontains"),
    ("sex", "sex", "exact"),
    ("like", "like", "icontains"),
    ("flike", "flike", "icontains"),
    ("location", "location", "icontains"),
]


def _compared(connection, column, lookup, value):
    """The condition `column` `lookup` `value` as Django's lookup (exact, icontains) makes it on
    `connection`, the value a parameter (for icontains, its LIKE wildcards escaped)."""
    compared = connection.ops.lookup_cast(lookup, "CharField") % f'"accounts_user"."{column}"'
    if lookup == "icontains":
        value = f"%{connection.ops.prep_for_like_query(value)}%"
    return _condition(f"{compared} {connection.operators[lookup]}", [value])


def search_conditions(connection, filters):
    """The conditions of /get_data's filters (a dict of SearchForm's cleaned data; empty ones
    are ignored) on `connection`, in the order of the form; ages are reached by today in
    TIME_ZONE."""
    found = [
        _compared(connection, column, lookup, filters[name])
        for name, column, lookup in _COMPARED
        if filters.get(name)
    ]
    age1, age2 = filters.get("age1"), filters.get("age2")
    if age1 is not None or age2 is not None:
        found.append(age_condition(age1, age2, timezone.localdate(), connection))
    return found


SEARCH_ORDERS = {
    "": ("date_joined", "id"),
    "oldest": ("date_joined", "id"),
    "newest": ("-date_joined", "-id"),
}
_SEARCH_ORDER_SQL = {
    order: ", ".join(
        f'"accounts_user"."{field.lstrip("-")}"' + (" DESC" if field.startswith("-") else "")
        for field in fields
    )
    for order, fields in SEARCH_ORDERS.items()
}

# the columns of a Profile (accounts.serializers.profile_of)
_SEARCH = f"""SELECT "accounts_user"."email", "accounts_user"."name", "accounts_user"."username",
       "accounts_user"."sex", "accounts_user"."birthday", "accounts_user"."like",
       "accounts_user"."flike", "accounts_user"."avatar", "accounts_user"."location",
       "accounts_user"."introduction"
FROM "accounts_user"
WHERE "accounts_user"."is_active" AND "accounts_user"."id" <> %s
  AND {unblocked_sql('"accounts_user"."id"', "%s")}"""


def search_page(viewer, filters, *, start, limit):
    """A page of /get_data (with `has_more`): the users `viewer` may find with `filters` (AND;
    search_conditions), oldest account first (`order="newest"`: newest first), as rows for
    profile_of. Never `viewer`, deactivated users, or users blocked either way. One query, and
    one more for an age range (age_condition); none when a condition matches nobody."""
    connection = _search_connection()
    conditions = search_conditions(connection, filters)
    if any(condition.sql == _NOBODY for condition in conditions):
        return page_from([], limit)  # an age no one reaches: no query, as the ORM sent none
    sql = "\n  AND ".join([_SEARCH, *(f"({condition.sql})" for condition in conditions)])
    sql += f"\nORDER BY {_SEARCH_ORDER_SQL[filters.get('order') or '']}\nLIMIT %s OFFSET %s"
    params = [viewer.pk] * 3
    params += [value for condition in conditions for value in condition.params]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit + 1, start])
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return page_from(rows, limit)


def search_queryset(viewer, **filters):
    """The search of search_page as a QuerySet, its conditions (search_conditions) on the ORM's
    visible_to, so that its plan can be explained (tests/test_search_indexes.py)."""
    users = User.objects.visible_to(viewer).exclude(pk=viewer.pk)
    conditions = search_conditions(_search_connection(), filters)
    return users.filter(*conditions).order_by(*SEARCH_ORDERS[filters.get("order") or ""])


# /recommend

SHARED_TAG_WEIGHT = 3
SEARCH_MATCH_WEIGHT = 2
SAME_FLIKE_WEIGHT = 1
MUTUAL_FRIEND_WEIGHT = 1
TAGS_NAMED_IN_REASON = 3
# Stage one's bounds: how many candidates each source may give.
FRIENDS_OF_FRIENDS = 1000
RECENT_ACCOUNTS = 5000  # users matching a signal are looked for among the newest accounts
TAG_CANDIDATES = 500
TEXT_CANDIDATES = 500
NEWEST_USERS = 100  # the newest accounts, so the list is never empty while others exist


# /recommend reads its pool and ranks it in one statement written here (the page's tag names in
# one more): through the ORM, the pool's ids went back to the database as a thousand parameters,
# every count was computed twice (as a column and inside the score), and compiling it cost more
# than running it. The icontains / iexact comparisons are the ORM's own for the connection
# (`_text_ops`), so that the signals match exactly what /get_data finds.
_RECOMMEND = """WITH "listed" AS (
  SELECT "friends_friendship"."friend_id" FROM "friends_friendship"
  INNER JOIN "accounts_user" ON "accounts_user"."id" = "friends_friendship"."friend_id"
  WHERE "friends_friendship"."owner_id" = %(viewer)s AND "accounts_user"."is_active"
),
"mutuals" AS (
  SELECT "friend_id" FROM "listed" WHERE EXISTS (
    SELECT 1 FROM "friends_friendship" AS "back"
    WHERE "back"."owner_id" = "listed"."friend_id" AND "back"."friend_id" = %(viewer)s)
),
"recent" AS (
  SELECT COALESCE((SELECT "id" FROM "accounts_user" ORDER BY "id" DESC
                   LIMIT 1 OFFSET %(recent_offset)s), 0) AS "first_id"
),
"pool" AS (
  SELECT "friend_id" AS "id" FROM (
    SELECT "friends_friendship"."friend_id" FROM "friends_friendship"
    WHERE "friends_friendship"."owner_id" IN (SELECT "friend_id" FROM "mutuals")
      AND {lists_back}
    ORDER BY "friends_friendship"."friend_id" DESC LIMIT %(friends_of_friends)s
  ) AS "friends_of_friends"
  UNION
  SELECT "user_id" FROM (
    SELECT "friends_userinterest"."user_id" FROM "friends_userinterest"
    WHERE "friends_userinterest"."tag_id" IN (
        SELECT "friends_interesttag"."id" FROM "friends_interesttag"
        WHERE "friends_interesttag"."id" IN (SELECT "tag_id" FROM "friends_userinterest"
                                             WHERE "user_id" = %(viewer)s)
           OR EXISTS (SELECT 1 FROM "friends_searchinterest"
                      WHERE "user_id" = %(viewer)s AND "field" = %(like_field)s
                        AND {tag_contains_term}))
      AND "friends_userinterest"."user_id" >= (SELECT "first_id" FROM "recent")
    ORDER BY "friends_userinterest"."user_id" DESC LIMIT %(tag_candidates)s
  ) AS "sharing_a_tag"
  UNION
  SELECT "id" FROM (
    SELECT "accounts_user"."id" FROM "accounts_user"
    WHERE "accounts_user"."id" >= (SELECT "first_id" FROM "recent")
      AND ({same_flike} OR EXISTS (SELECT 1 FROM "friends_searchinterest"
                                   WHERE {search_match}))
    ORDER BY "accounts_user"."id" DESC LIMIT %(text_candidates)s
  ) AS "matching_text"
  UNION
  SELECT "id" FROM (
    SELECT "accounts_user"."id" FROM "accounts_user"
    WHERE {candidate}
    ORDER BY "accounts_user"."date_joined" DESC, "accounts_user"."id" DESC
    LIMIT %(newest_users)s
  ) AS "newest"
),
"signals" AS MATERIALIZED (
  SELECT "accounts_user"."id", "accounts_user"."date_joined",
    (SELECT COUNT(*) FROM "friends_userinterest"
     WHERE "friends_userinterest"."user_id" = "accounts_user"."id"
       AND "friends_userinterest"."tag_id" IN (SELECT "tag_id" FROM "friends_userinterest"
                                               WHERE "user_id" = %(viewer)s)) AS "shared_tags",
    (SELECT COUNT(*) FROM "friends_searchinterest" WHERE {search_match}) AS "search_matches",
    CASE WHEN {same_flike} THEN 1 ELSE 0 END AS "same_flike",
    (SELECT COUNT(*) FROM "friends_friendship"
     WHERE "friends_friendship"."friend_id" = "accounts_user"."id"
       AND "friends_friendship"."owner_id" IN (SELECT "friend_id" FROM "mutuals")
       AND {lists_back}) AS "mutual_friends"
  FROM "accounts_user"
  WHERE {in_pool} AND {candidate}
),
"ranked" AS (
  SELECT "signals".*,
    %(shared_tag)s * "shared_tags" + %(search_match)s * "search_matches"
    + %(same_flike_weight)s * "same_flike" + %(mutual_friend)s * "mutual_friends" AS "score"
  FROM "signals"
  ORDER BY "score" DESC, "date_joined" DESC, "id" DESC
  LIMIT %(rows)s OFFSET %(start)s
)
SELECT {users}, "ranked"."score", "ranked"."shared_tags", "ranked"."search_matches",
       "ranked"."same_flike", "ranked"."mutual_friends"
FROM "ranked" INNER JOIN "accounts_user" ON "accounts_user"."id" = "ranked"."id"
ORDER BY "ranked"."score" DESC, "ranked"."date_joined" DESC, "ranked"."id" DESC"""

# Whom the viewer may be recommended: active, not blocked either way, not the viewer, not listed.
_CANDIDATE = f""""accounts_user"."is_active"
      AND {unblocked_sql('"accounts_user"."id"', "%(viewer)s")}
      AND "accounts_user"."id" <> %(viewer)s
      AND "accounts_user"."id" NOT IN (SELECT "friend_id" FROM "listed")"""
# Friendship.objects.mutual(): the friend lists the owner back.
_LISTS_BACK = """EXISTS (SELECT 1 FROM "friends_friendship" AS "back"
                WHERE "back"."owner_id" = "friends_friendship"."friend_id"
                  AND "back"."friend_id" = "friends_friendship"."owner_id")"""

# The pool's users by their primary key. PostgreSQL, which estimates the pool at the sum of its
# sources' limits, would hash-join it with a scan of every user; an array of the pool's ids is
# an index condition.
_IN_POOL = {
    "sqlite": '"accounts_user"."id" IN (SELECT "id" FROM "pool")',
    "postgresql": '"accounts_user"."id" = ANY(ARRAY(SELECT "id" FROM "pool"))',
}

_recommend_sql = {}  # {vendor: _RECOMMEND completed with that vendor's text comparisons}


def _text_ops(connection):
    """(`column` contains the column `term`, `column` equals the parameter `value`), both
    case-insensitive, as the ORM's icontains and iexact lookups write them on `connection`."""
    contains = connection.pattern_ops["icontains"].format(connection.pattern_esc)
    cast = connection.ops.lookup_cast

    def contains_term(column, term):
        return f"{cast('icontains') % column} {contains.format(term)}"

    def equals(column, value):
        return f"{cast('iexact') % column} {connection.operators['iexact'] % value}"

    return contains_term, equals


def _recommend_sql_for(connection):
    if connection.vendor not in _recommend_sql:
        contains_term, equals = _text_ops(connection)
        term = '"friends_searchinterest"."term"'
        field = '"friends_searchinterest"."field"'
        search_match = f""""friends_searchinterest"."user_id" = %(viewer)s
          AND (({contains_term('"accounts_user"."like"', term)} AND {field} = %(like_field)s)
               OR ({contains_term('"accounts_user"."flike"', term)}
                   AND {field} = %(flike_field)s))"""
        _recommend_sql[connection.vendor] = _RECOMMEND.format(
            lists_back=_LISTS_BACK,
            tag_contains_term=contains_term('"friends_interesttag"."name"', term),
            # NULL (the viewer has no flike) matches nobody
            same_flike=equals('"accounts_user"."flike"', "%(flike)s"),
            search_match=search_match,
            candidate=_CANDIDATE,
            in_pool=_IN_POOL.get(connection.vendor, _IN_POOL["sqlite"]),
            users=columns(User),
        )
    return _recommend_sql[connection.vendor]


_SHARED_TAG_NAMES = """SELECT "friends_userinterest"."user_id", "friends_interesttag"."name"
FROM "friends_userinterest" INNER JOIN "friends_interesttag"
  ON "friends_interesttag"."id" = "friends_userinterest"."tag_id"
WHERE "friends_userinterest"."user_id" IN ({users})
  AND "friends_userinterest"."tag_id" IN (SELECT "tag_id" FROM "friends_userinterest"
                                          WHERE "user_id" = %s)
ORDER BY "friends_userinterest"."user_id", "friends_userinterest"."position"
"""


def shared_tag_names(connection, viewer, users):
    """{user id: [names of the tags they share with `viewer`, in their own order]}, for a page
    of users, in one query (none for an empty page)."""
    names = {user.pk: [] for user in users}
    if names:
        sql = _SHARED_TAG_NAMES.format(users=", ".join(["%s"] * len(names)))
        with connection.cursor() as cursor:
            cursor.execute(sql, [*names, viewer.pk])
            for user_id, name in cursor.fetchall():
                names[user_id].append(name)
    return names


def reasons(user, tag_names):
    """Short Chinese reasons for one ranked candidate."""
    said = []
    if tag_names:
        named = "、".join(tag_names[:TAGS_NAMED_IN_REASON])
        more = f"等 {len(tag_names)} 项" if len(tag_names) > TAGS_NAMED_IN_REASON else ""
        said.append(f"共同爱好：{named}{more}")
    if user.mutual_friends:
        said.append(f"{user.mutual_friends} 位共同好友")
    if user.search_matches:
        said.append("符合你搜索过的兴趣")
    if user.same_flike:
        said.append("交友方向相同")
    return said


def recommend_statement(connection, viewer, *, start, limit):
    """The SQL and parameters of a page of `_RECOMMEND` on `connection` (and its plan tests)."""
    flike = viewer.flike.strip()
    params = {
        "viewer": viewer.pk,
        "flike": connection.ops.prep_for_iexact_query(flike) if flike else None,
        "like_field": SearchField.LIKE.value,
        "flike_field": SearchField.FLIKE.value,
        "recent_offset": RECENT_ACCOUNTS - 1,
        "friends_of_friends": FRIENDS_OF_FRIENDS,
        "tag_candidates": TAG_CANDIDATES,
        "text_candidates": TEXT_CANDIDATES,
        "newest_users": NEWEST_USERS,
        "shared_tag": SHARED_TAG_WEIGHT,
        "search_match": SEARCH_MATCH_WEIGHT,
        "same_flike_weight": SAME_FLIKE_WEIGHT,
        "mutual_friend": MUTUAL_FRIEND_WEIGHT,
        "rows": limit + 1,
        "start": start,
    }
    return _recommend_sql_for(connection), params


def recommend(viewer, *, start, limit):
    """One page of recommendations, items (user, score, reasons), with `has_more`: the pool and
    its ranking in one query (`_RECOMMEND`), the page's tag names in one more."""
    connection = connections[router.db_for_read(User)]
    sql, params = recommend_statement(connection, viewer, start=start, limit=limit)
    found = []
    for user, score, *signals in read_instances(connection, sql, params, User):
        user.shared_tags, user.search_matches, user.same_flike, user.mutual_friends = signals
        found.append((user, score))
    page = page_from(found, limit)
    tag_names = shared_tag_names(connection, viewer, [user for user, _ in page.items])
    ranked = [(user, score, reasons(user, tag_names[user.pk])) for user, score in page.items]
    return page._replace(items=ranked)
