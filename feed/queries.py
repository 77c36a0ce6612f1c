"""The one place feed queries are built (docs/ARCHITECTURE.md): the lists, and the look-ups
that decide a not-found code, so that the views keep API.md's check order (not-found codes,
then ownership (9403), then formats (9400), then the write). Every list runs a fixed number of
queries whatever the number of friends, posts or comments: the page of posts with their
authors and like counts, then the latest comments and the comment counts of all of them in one
query, then their images in one query."""

from datetime import timezone as dt_timezone

from django.db import connections, router
from django.utils.dateparse import parse_datetime

from accounts import extensions
from accounts.models import User, normalize_email
from accounts.queries import active_sql
from feed import errors
from feed.forms import parse_bigint, parse_id
from feed.models import Comment, Post
from friends.queries import unblocked_sql
from socialsite.api import page_from
from socialsite.errors import ApiError
from socialsite.orm import columns, read_instances

COMMENT_LIST_SIZE = 50

# The page of posts, its comments and its images are read in SQL written here rather than built
# by the ORM: compiling the ORM's version took over 90 % of a timeline's time (the statements
# themselves about 5 %). Every value is a parameter (%(name)s); only fixed fragments and
# placeholders are put together. The rules are the models' (feed.models.visible_q, Block's
# unblocked_q) and the likes' (by an active user not blocked either way, as comments), written
# once more, and tested by the same tests.


def _visible(table):
    """Rows of `table` (feed_post, feed_comment) that `viewer` may see: not hidden, by an active
    author, not blocked either way."""
    author = f'"{table}"."author_id"'
    return f"""NOT "{table}"."is_hidden" AND {active_sql(author)}
        AND {unblocked_sql(author, "%(viewer)s")}"""


def _newer_than_cursor(table, cursor):
    """The timeline's cursor on `table` (an alias of feed_post): posts after (`before`,
    `before_id`) in the order newest first by time, then id; `before` alone: `time` < before.
    The redundant `time <= before` makes the cursor the start of an index range; as a filter
    alone the OR would read every newer post before the page."""
    if cursor is None:
        return "TRUE"
    if cursor == "before":
        return f'"{table}"."time" < %(before)s'
    return f"""("{table}"."time" <= %(before)s AND ("{table}"."time" < %(before)s
                 OR ("{table}"."time" = %(before)s AND "{table}"."id" < %(before_id)s)))"""


# the likes `viewer` may count (by an active user not blocked either way, the rule comment_count
# follows) and whether `viewer` is among them
_LIKE_COUNT = f"""(SELECT COUNT(*) FROM "feed_like" AS "counted"
    WHERE "counted"."post_id" = "feed_post"."id"
      AND {active_sql('"counted"."user_id"')}
      AND {unblocked_sql('"counted"."user_id"', "%(viewer)s")})"""
_LIKED = """EXISTS (SELECT 1 FROM "feed_like" AS "own"
    WHERE "own"."post_id" = "feed_post"."id" AND "own"."user_id" = %(viewer)s)"""

_POST_PAGE = f"""SELECT "feed_post"."id", "feed_post"."msg", "feed_post"."time",
       "feed_post"."created_at", "accounts_user"."email", "accounts_user"."username",
       "accounts_user"."name", "accounts_user"."avatar",
       {_LIKE_COUNT} AS "like_count", {_LIKED} AS "liked"
FROM "feed_post" INNER JOIN "accounts_user" ON "accounts_user"."id" = "feed_post"."author_id"
WHERE {_visible("feed_post")} AND {{conditions}}
ORDER BY "feed_post"."time" DESC, "feed_post"."id" DESC
LIMIT %(rows)s OFFSET %(start)s"""

# each post's newest 50 visible comments, numbered newest first, with their number
_LATEST_COMMENTS = f"""SELECT "id", "post_id", "text", "created_at", "email", "username", "name",
       "avatar", "visible_total"
FROM (SELECT "feed_comment"."id", "feed_comment"."post_id", "feed_comment"."text",
             "feed_comment"."created_at", "accounts_user"."email", "accounts_user"."username",
             "accounts_user"."name", "accounts_user"."avatar",
             ROW_NUMBER() OVER (PARTITION BY "feed_comment"."post_id"
                                ORDER BY "feed_comment"."created_at" DESC,
                                         "feed_comment"."id" DESC) AS "rank",
             COUNT(*) OVER (PARTITION BY "feed_comment"."post_id") AS "visible_total"
      FROM "feed_comment"
      INNER JOIN "accounts_user" ON "accounts_user"."id" = "feed_comment"."author_id"
      WHERE {_visible("feed_comment")} AND "feed_comment"."post_id" IN ({{posts}})) AS "ranked"
WHERE "rank" <= {COMMENT_LIST_SIZE}
ORDER BY "post_id", "rank"
"""

_IMAGES = """SELECT "post_id", "file" FROM "feed_postimage" WHERE "post_id" IN ({posts})
ORDER BY "post_id", "position"
"""


def _rows(cursor, sql, params):
    cursor.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _moment(value):
    """A timestamp column as an aware datetime: SQLite gives a naive one (UTC) or, through a
    subquery, its text."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if value.tzinfo else value.replace(tzinfo=dt_timezone.utc)


def _placeholders(name, values, params):
    """`%(name_0)s, %(name_1)s, …` for `values`, which join `params`."""
    for number, value in enumerate(values):
        params[f"{name}_{number}"] = value
    return ", ".join(f"%({name}_{number})s" for number in range(len(values)))


def post_page(viewer, conditions, params, start, limit):
    """The page [start, start + limit) of the posts `viewer` may see that meet `conditions` (SQL
    on feed_post, with `params`), newest first, with `has_more`: rows for `post_json` (the
    author's Card, `like_count`, `liked`, `comment_count` the number of comments `viewer` may
    see, `latest_comments` the newest ≤ 50 of them (newest first; the serializer turns them
    around), `images` its image names in order). Three queries (one for an empty page), on one
    connection (a replica's, in a replica_reads view)."""
    params = {**params, "viewer": viewer.pk, "rows": limit + 1, "start": start}
    with connections[router.db_for_read(Post)].cursor() as cursor:
        found = _rows(cursor, _POST_PAGE.format(conditions=conditions), params)
        page = page_from(found, limit)
        _attach_comments_and_images(cursor, page.items, viewer)
    return page


def _attach_comments_and_images(cursor, posts, viewer):
    by_id = {}
    for post in posts:
        post["created_at"] = _moment(post["created_at"])
        post["comment_count"], post["latest_comments"], post["images"] = 0, [], []
        by_id[post["id"]] = post
    if not by_id:
        return
    params = {"viewer": viewer.pk}
    listed = _placeholders("post", list(by_id), params)
    for comment in _rows(cursor, _LATEST_COMMENTS.format(posts=listed), params):
        comment["created_at"] = _moment(comment["created_at"])
        post = by_id[comment["post_id"]]
        post["comment_count"] = comment.pop("visible_total")
        post["latest_comments"].append(comment)
    for image in _rows(cursor, _IMAGES.format(posts=listed), params):
        by_id[image["post_id"]]["images"].append(image["file"])


def post_detail(viewer, raw_id):
    """/get_post_detail: the post `viewer` may see with id `raw_id`, a row for `post_json`; 3006
    otherwise (as `post_visible_to`). Three queries."""
    post_id = parse_id(raw_id)
    page = None
    if post_id is not None:
        page = post_page(viewer, '"feed_post"."id" = %(post)s', {"post": post_id}, 0, 1)
    if not page or not page.items:
        raise ApiError(errors.NO_SUCH_POST)
    return page.items[0]


_LIKE_STATE = f"""SELECT {_LIKE_COUNT} AS "like_count", {_LIKED} AS "liked"
FROM "feed_post" WHERE "feed_post"."id" = %(post)s"""


def like_state(post, viewer):
    """/like, /unlike: {"like_count", "liked"} of `post` as `viewer` sees them in a post's row
    (the same expressions); 3006 when the post was deleted meanwhile."""
    with connections[router.db_for_read(Post)].cursor() as cursor:
        found = _rows(cursor, _LIKE_STATE, {"post": post.pk, "viewer": viewer.pk})
    if not found:
        raise ApiError(errors.NO_SUCH_POST)
    return {"like_count": found[0]["like_count"], "liked": int(found[0]["liked"])}


_VISIBLE_POST_COUNT = f"""SELECT COUNT(*) FROM "feed_post"
WHERE "feed_post"."author_id" = %(author)s AND NOT "feed_post"."is_hidden"
  AND {active_sql('"feed_post"."author_id"')}"""


def visible_post_count(author):
    """/get_info's `post_count` (accounts.extensions.owner_counts): `author`'s posts that are
    not hidden (a range of post_author_time)."""
    with connections[router.db_for_read(Post)].cursor() as cursor:
        cursor.execute(_VISIBLE_POST_COUNT, {"author": author.pk})
        return cursor.fetchone()[0]


def public_posts(viewer, *, old_time=None, author_email=None, start=0, limit=20):
    """/getPost: a page (with `has_more`) of the posts whose `time` ≥ old_time and/or by the user
    with `author_email`."""
    conditions, params = ["TRUE"], {}
    if old_time is not None:
        conditions.append('"feed_post"."time" >= %(old_time)s')
        params["old_time"] = old_time
    if author_email is not None:
        # The author's id as a value, not a join: the page is then one ordered range of
        # post_author_time (a join lets the planner walk post_time through everyone's posts).
        conditions.append(
            '"feed_post"."author_id" = '
            '(SELECT "id" FROM "accounts_user" WHERE "email" = %(author)s)'
        )
        params["author"] = normalize_email(author_email)
    return post_page(viewer, " AND ".join(conditions), params, start, limit)


def _listed(owner, group):
    """The users `owner` lists (one group of them with `group`), as a subquery of friend_id."""
    grouped = ' AND "listed"."group" = %(group)s' if group is not None else ""
    return f"""SELECT "listed"."friend_id" FROM "friends_friendship" AS "listed"
               WHERE "listed"."owner_id" = {owner}{grouped}"""


def _newest_of(author, cursor):
    """On PostgreSQL, the ids of `author`'s newest start + limit + 1 posts after the cursor that
    are not hidden: one short range of post_author_time."""
    return f"""ARRAY(SELECT "newest"."id" FROM "feed_post" AS "newest"
                     WHERE "newest"."author_id" = {author} AND NOT "newest"."is_hidden"
                       AND {_newer_than_cursor("newest", cursor)}
                     ORDER BY "newest"."time" DESC, "newest"."id" DESC
                     LIMIT %(rows_ahead)s)"""


def friend_posts(
    viewer, *, group=None, own_posts=False, before=None, before_id=None, start=0, limit=20
):
    """/get_friend_post: a page (with `has_more`) of the posts by the users in `viewer`'s list (one
    group of it with `group`), and by `viewer` too with `own_posts`, after the cursor `before`,
    `before_id` when given (which replaces `start`). SQLite sorts all the listed authors' posts (it
    has no arrays); PostgreSQL reads at most start + limit + 1 posts of each author."""
    if before is not None:
        start = 0  # API.md: given a cursor, `start` is ignored
    cursor = None if before is None else "before" if before_id is None else "before_id"
    params = {"group": group, "before": before, "before_id": before_id}
    listed = _listed("%(viewer)s", group)
    if connections[router.db_for_read(Post)].vendor == "postgresql":
        # The page and the post after it (has_more) are among each listed author's newest
        # start + limit + 1 posts that are not hidden; the authors' own conditions (active, not
        # blocked) apply once, in post_page. Left to itself the planner walks post_time through
        # everyone's posts, which reads the whole site when one's friends are quiet. The
        # candidates are matched with `id = ANY(ARRAY(...))`, so they are fetched by primary key
        # whatever the planner guesses of their number.
        params["rows_ahead"] = start + limit + 1
        candidates = f"""ARRAY(SELECT unnest({_newest_of('"listed"."friend_id"', cursor)})
                               FROM ({listed}) AS "listed")"""
        if own_posts:  # the viewer's own range of post_author_time, one more array
            candidates = f"array_cat({candidates}, {_newest_of('%(viewer)s', cursor)})"
        authors = f'"feed_post"."id" = ANY({candidates})'
    else:
        authors = f'"feed_post"."author_id" IN ({listed})'
        if own_posts:
            authors = f'({authors} OR "feed_post"."author_id" = %(viewer)s)'
    conditions = f"{_newer_than_cursor('feed_post', cursor)} AND {authors}"
    return post_page(viewer, conditions, params, start, limit)


_COMMENT_PAGE = f"""SELECT "feed_comment"."id", "feed_comment"."post_id", "feed_comment"."text",
       "feed_comment"."created_at", "accounts_user"."email", "accounts_user"."username",
       "accounts_user"."name", "accounts_user"."avatar"
FROM "feed_comment" INNER JOIN "accounts_user" ON "accounts_user"."id" = "feed_comment"."author_id"
WHERE {_visible("feed_comment")} AND "feed_comment"."post_id" = %(post)s
ORDER BY "feed_comment"."created_at", "feed_comment"."id"
LIMIT %(rows)s OFFSET %(start)s"""


def comment_page(viewer, post, start=0, limit=20):
    """/get_comments: a page (with `has_more`) of the comments of `post` that `viewer` may see,
    oldest first: rows for `comment_json`."""
    params = {"viewer": viewer.pk, "post": post.pk, "rows": limit + 1, "start": start}
    with connections[router.db_for_read(Comment)].cursor() as cursor:
        found = _rows(cursor, _COMMENT_PAGE, params)
    for comment in found:
        comment["created_at"] = _moment(comment["created_at"])
    return page_from(found, limit)


def post_by_id(posts, raw_id):
    """The post of `posts` named by `raw_id` (any string a client sent), or None."""
    post_id = parse_id(raw_id)
    return None if post_id is None else posts.filter(pk=post_id).first()


_VISIBLE_POST = f"""SELECT {columns(Post)} FROM "feed_post"
WHERE "feed_post"."id" = %(post)s AND {_visible("feed_post")}"""


def post_visible_to(viewer, raw_id):
    """/comment, /get_comments, /like, /unlike: the post `viewer` may see with id `raw_id`; 3006
    otherwise (hidden, by a deactivated or blocked user, deleted, or an id that is not a whole
    number). In raw SQL, as the pages of posts: the ORM's version cost more to build than run."""
    post_id = parse_id(raw_id)
    if post_id is not None:
        reads = connections[router.db_for_read(Post)]
        params = {"post": post_id, "viewer": viewer.pk}
        for (post,) in read_instances(reads, _VISIBLE_POST, params, Post):
            return post
    raise ApiError(errors.NO_SUCH_POST)


# /delComment's and /delPost's look-ups, in raw SQL for the same reason as post_visible_to. The
# user named by the email is a subquery of its unique index, not a join.
_USER_BY_EMAIL = """(SELECT "id" FROM "accounts_user" WHERE "email" = %(email)s)"""
_DELETABLE_COMMENT = f"""SELECT {columns(Comment)} FROM "feed_comment"
INNER JOIN "feed_post" ON "feed_post"."id" = "feed_comment"."post_id"
WHERE "feed_comment"."id" = %(comment)s
  AND {_visible("feed_comment")} AND {_visible("feed_post")}
  AND {_USER_BY_EMAIL} IN ("feed_comment"."author_id", "feed_post"."author_id")"""


def comment_deletable_by(viewer, email, raw_id):
    """/delComment: the comment with id `raw_id` that the user with `email` may delete (theirs, or
    one on their post), among those `viewer` may see on a post `viewer` may see; 3004 otherwise
    (hidden, an id that is not a whole number, …), as /delPost answers for posts."""
    comment_id = parse_id(raw_id)
    if comment_id is not None:
        params = {"comment": comment_id, "viewer": viewer.pk, "email": normalize_email(email)}
        reads = connections[router.db_for_read(Comment)]
        for (comment,) in read_instances(reads, _DELETABLE_COMMENT, params, Comment):
            return comment
    raise ApiError(errors.NO_SUCH_POST_OF_USER)


def _post_of_author(named_by):
    return f"""SELECT {columns(Post)} FROM "feed_post"
WHERE "feed_post"."author_id" = {_USER_BY_EMAIL} AND {named_by} AND {_visible("feed_post")}
ORDER BY "feed_post"."id" DESC LIMIT 1"""


# by id, by client timestamp, or by both
_POST_OF_AUTHOR = {
    (True, False): _post_of_author('"feed_post"."id" = %(post)s'),
    (False, True): _post_of_author('"feed_post"."time" = %(time)s'),
    (True, True): _post_of_author('"feed_post"."id" = %(post)s AND "feed_post"."time" = %(time)s'),
}


def post_by_author(viewer, email, *, post_id=None, time=None):
    """/delPost: the post `viewer` may see of the user with `email`, named by its id and/or its
    client timestamp (with both, both must match); 3004 when there is none. A post hidden from
    `viewer` by a block gets 3004 too, not the 9403 of another's visible post: that answer would
    tell the viewer that it is there. Among posts sharing a timestamp the latest one is meant,
    so that a retried delete removes one post at a time."""
    params = {"viewer": viewer.pk, "email": normalize_email(email)}
    if post_id is not None:
        params["post"] = parse_id(post_id)
    if time is not None:
        params["time"] = parse_bigint(time)
    if None not in params.values():  # each given one a number
        sql = _POST_OF_AUTHOR[post_id is not None, time is not None]
        reads = connections[router.db_for_read(Post)]
        for (post,) in read_instances(reads, sql, params, Post):
            return post
    raise ApiError(errors.NO_SUCH_POST_OF_USER)


def report_target(viewer, *, post_id=None, email=None):
    """/report: (post, user) named by a post id and/or an email: a visible post, or an active
    user other than `viewer` (blocked users included: blocking someone does not stop one
    reporting them). 7000 when a given one does not exist."""
    post = user = None
    if post_id is not None:
        post = post_by_id(Post.objects.visible(), post_id)
        if post is None:
            raise ApiError(errors.NO_SUCH_REPORT_TARGET)
    if email is not None:
        user = User.objects.active().exclude(pk=viewer.pk).with_email(email).first()
        if user is None:
            raise ApiError(errors.NO_SUCH_REPORT_TARGET)
    return post, user


def other_report_targets(viewer, raw_ids):
    """/report: {name: target} of the targets that the apps above feed provide
    (accounts.extensions.report_targets: chat's `message`), named by `raw_ids` ({name: the raw id
    a client sent}). 7000 when one names nothing `viewer` may report."""
    found = {}
    for name, raw_id in raw_ids.items():
        target = extensions.report_targets[name].find(viewer, raw_id)
        if target is None:
            raise ApiError(errors.NO_SUCH_REPORT_TARGET)
        found[name] = target
    return found
