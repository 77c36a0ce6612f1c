"""The one place feed queries are built (docs/ARCHITECTURE.md). Every list runs a fixed number of
queries whatever the number of friends, posts or comments: the page of posts with their
authors, then the latest comments and the comment counts of all of them in one query."""

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import BooleanField, Count, F, Func, OuterRef, Q, Subquery, Window
from django.db.models.functions import RowNumber

from accounts.models import User
from feed.models import Comment, Post
from friends.models import Friendship

COMMENT_LIST_SIZE = 50
# What post_json and comment_json read: loading (and compiling) only these keeps a page cheap.
POST_FIELDS = ("id", "msg", "time", "created_at", "author__email", "author__username")
COMMENT_FIELDS = ("id", "post_id", "text", "created_at", "author__email", "author__username")


def post_page(posts, viewer, start, limit):
    """The page [start, start + limit) of `posts` (newest first), ready for `post_json`: author
    selected, `comment_count` the number of comments `viewer` may see, `latest_comments` the
    newest ≤ 50 of them (newest first; the serializer turns them around). Two queries."""
    page = list(
        posts.select_related("author").only(*POST_FIELDS).newest_first()[start : start + limit]
    )
    attach_comments(page, viewer)
    return page


def attach_comments(posts, viewer):
    """Set `comment_count` and `latest_comments` on `posts` with one query: window functions
    number each post's visible comments newest first and count them, and only the first 50 of
    each post leave the database."""
    by_id = {post.pk: post for post in posts}
    for post in posts:
        post.comment_count = 0
        post.latest_comments = []
    if not by_id:
        return
    per_post = {"partition_by": [F("post_id")]}
    latest = (
        Comment.objects.visible_to(viewer)
        .filter(post_id__in=by_id)
        .select_related("author")
        .only(*COMMENT_FIELDS)
        .annotate(
            rank=Window(RowNumber(), order_by=[F("created_at").desc(), F("id").desc()], **per_post),
            visible_total=Window(Count("id"), **per_post),
        )
        .filter(rank__lte=COMMENT_LIST_SIZE)
        .order_by("post_id", "rank")
    )
    for comment in latest:
        post = by_id[comment.post_id]
        post.comment_count = comment.visible_total
        post.latest_comments.append(comment)


class EqualsAny(Func):
    """`value = ANY(array)` (PostgreSQL)."""

    arg_joiner = " = ANY("
    template = "(%(expressions)s))"
    output_field = BooleanField()


def public_posts(viewer, *, old_time=None, author_email=None, start=0, limit=20):
    """/getPost: posts whose `time` ≥ old_time and/or by the user with `author_email`."""
    posts = Post.objects.visible_to(viewer)
    if old_time is not None:
        posts = posts.filter(time__gte=old_time)
    if author_email is not None:
        # The author's id as a value, not a join: the page is then one ordered range of
        # post_author_time (a join lets the planner walk post_time through everyone's posts).
        author = User.objects.with_email(author_email).values("pk")
        posts = posts.filter(author=Subquery(author))
    return post_page(posts, viewer, start, limit)


def friend_posts(viewer, *, group=None, before=None, start=0, limit=20):
    """/get_friend_post: posts by the users in `viewer`'s list (one group of it with `group`),
    older than `before` when given. SQLite sorts all the listed authors' posts (it has no
    arrays); PostgreSQL reads at most start + limit posts of each author."""
    listed = Friendship.objects.filter(owner=viewer)
    if group is not None:
        listed = listed.filter(group=group)
    period = Q() if before is None else Q(time__lt=before)
    posts = Post.objects.visible_to(viewer).filter(period)
    if connection.vendor == "postgresql":
        # The page is among each listed author's newest start + limit posts that are not hidden:
        # one short range of post_author_time per author; the authors' own conditions (active,
        # not blocked) apply once, below. Left to itself the planner walks post_time through
        # everyone's posts, which reads the whole site when one's friends are quiet. The
        # candidates are matched with `id = ANY(ARRAY(...))`, so they are fetched by primary key
        # whatever the planner guesses of their number.
        newest = Post.objects.filter(period, author=OuterRef("friend"), is_hidden=False)
        newest = newest.newest_first().values("pk")[: start + limit]
        candidates = listed.annotate(post=Func(ArraySubquery(newest), function="unnest"))
        posts = posts.filter(EqualsAny(F("pk"), ArraySubquery(candidates.values("post"))))
    else:
        posts = posts.filter(author__in=listed.values("friend"))
    return post_page(posts, viewer, start, limit)


def comment_page(viewer, post, start=0, limit=20):
    """/get_comments: the comments of `post` that `viewer` may see, oldest first."""
    return list(
        Comment.objects.visible_to(viewer)
        .filter(post=post)
        .select_related("author")
        .only(*COMMENT_FIELDS)
        .order_by("created_at", "id")[start : start + limit]
    )
