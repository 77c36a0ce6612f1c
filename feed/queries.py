"""The one place feed queries are built (docs/ARCHITECTURE.md): the lists, and the look-ups
that decide a not-found code, so that the views keep API.md's check order (not-found codes,
then ownership (9403), then formats (9400), then the write). Every list runs a fixed number of
queries whatever the number of friends, posts or comments: the page of posts with their
authors and like counts, then the latest comments and the comment counts of all of them in one
query, then their images in one query."""

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Count,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    Subquery,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber

from accounts import extensions
from accounts.models import User, normalize_email
from feed import errors
from feed.forms import parse_bigint, parse_id
from feed.models import Comment, Like, Post, PostImage
from friends.models import Friendship
from socialsite.api import page_of
from socialsite.errors import ApiError

COMMENT_LIST_SIZE = 50
# What post_json and comment_json read (the author's Card among it): loading (and compiling)
# only these keeps a page cheap.
CARD_FIELDS = ("author__email", "author__username", "author__name", "author__avatar")
POST_FIELDS = ("id", "msg", "time", "created_at", *CARD_FIELDS)
COMMENT_FIELDS = ("id", "post_id", "text", "created_at", *CARD_FIELDS)


def with_likes(posts, viewer):
    """`posts` with `like_count` (the likes `viewer` may count: Like.objects.counted_for) and
    `liked` (whether `viewer` likes it), in the same query: two subqueries for each post of the
    page, a range of like_post_user and a look-up of feed_like_unique_pair."""
    counted = Like.objects.counted_for(viewer).filter(post=OuterRef("pk")).order_by()
    count = counted.values("post").annotate(likes=Count("*")).values("likes")
    return posts.annotate(
        like_count=Coalesce(Subquery(count), 0),
        liked=Exists(Like.objects.filter(post=OuterRef("pk"), user=viewer)),
    )


def for_post_json(posts, viewer):
    """`posts` with what `post_json` reads of them in their own query: the author's Card and
    the likes (the comments come after, with `attach_comments`)."""
    return with_likes(posts.select_related("author").only(*POST_FIELDS), viewer)


def post_page(posts, viewer, start, limit):
    """The page [start, start + limit) of `posts` (newest first) with `has_more`, its posts ready
    for `post_json`: author selected, likes counted (`with_likes`), `comment_count` the number of
    comments `viewer` may see, `latest_comments` the newest ≤ 50 of them (newest first; the
    serializer turns them around), `image_list` its images in order. Three queries (one for an
    empty page)."""
    page = page_of(for_post_json(posts, viewer).newest_first(), start, limit)
    attach_comments(page.items, viewer)
    attach_images(page.items)
    return page


def post_detail(viewer, raw_id):
    """/get_post_detail: the post `viewer` may see with id `raw_id`, ready for `post_json`;
    3006 otherwise (as `post_visible_to`). Three queries."""
    post = post_by_id(for_post_json(Post.objects.visible_to(viewer), viewer), raw_id)
    if post is None:
        raise ApiError(errors.NO_SUCH_POST)
    attach_comments([post], viewer)
    attach_images([post])
    return post


def like_state(post, viewer):
    """/like, /unlike: {"like_count", "liked"} of `post` as `viewer` sees them in a Post (the same
    expressions, `with_likes`); 3006 when the post was deleted meanwhile."""
    posts = with_likes(Post.objects.filter(pk=post.pk), viewer)
    state = posts.values("like_count", "liked").first()
    if state is None:
        raise ApiError(errors.NO_SUCH_POST)
    return {"like_count": state["like_count"], "liked": int(state["liked"])}


def attach_images(posts):
    """Set `image_list` on `posts`, each post's images in position order, with one query (an
    index range of the (post, position) constraint per post)."""
    by_id = {post.pk: post for post in posts}
    for post in posts:
        post.image_list = []
    if not by_id:
        return
    images = (
        PostImage.objects.filter(post_id__in=by_id)
        .only("post_id", "file")
        .order_by("post_id", "position")
    )
    for image in images:
        by_id[image.post_id].image_list.append(image)


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
    """/getPost: a page (with `has_more`) of the posts whose `time` ≥ old_time and/or by the user
    with `author_email`."""
    posts = Post.objects.visible_to(viewer)
    if old_time is not None:
        posts = posts.filter(time__gte=old_time)
    if author_email is not None:
        # The author's id as a value, not a join: the page is then one ordered range of
        # post_author_time (a join lets the planner walk post_time through everyone's posts).
        author = User.objects.with_email(author_email).values("pk")
        posts = posts.filter(author=Subquery(author))
    return post_page(posts, viewer, start, limit)


def older_than(before, before_id):
    """The timeline's cursor: posts after the post (`before`, `before_id`) in the order newest
    first by time, then id — `time` < before, or `time` = before and id < before_id; `before`
    alone: `time` < before. The redundant `time <= before` makes the cursor the start of an index
    range; as a filter alone the OR would read every newer post before the page."""
    if before is None:
        return Q()
    if before_id is None:
        return Q(time__lt=before)
    return Q(time__lte=before) & (Q(time__lt=before) | Q(time=before, pk__lt=before_id))


def friend_posts(
    viewer, *, group=None, own_posts=False, before=None, before_id=None, start=0, limit=20
):
    """/get_friend_post: a page (with `has_more`) of the posts by the users in `viewer`'s list (one
    group of it with `group`), and by `viewer` too with `own_posts`, after the cursor `before`,
    `before_id` when given (which replaces `start`). SQLite sorts all the listed authors' posts (it
    has no arrays); PostgreSQL reads at most start + limit + 1 posts of each author."""
    if before is not None:
        start = 0  # API.md: given a cursor, `start` is ignored
    listed = Friendship.objects.filter(owner=viewer)
    if group is not None:
        listed = listed.filter(group=group)
    period = older_than(before, before_id)
    posts = Post.objects.visible_to(viewer).filter(period)
    if connection.vendor == "postgresql":
        # The page and the post after it (has_more) are among each listed author's newest
        # start + limit + 1 posts that are not hidden: one short range of post_author_time per
        # author; the authors' own conditions (active, not blocked) apply once, below. Left to
        # itself the planner walks post_time through everyone's posts, which reads the whole site
        # when one's friends are quiet. The candidates are matched with `id = ANY(ARRAY(...))`,
        # so they are fetched by primary key whatever the planner guesses of their number.
        def newest_of(author):
            newest = Post.objects.filter(period, author=author, is_hidden=False)
            return newest.newest_first().values("pk")[: start + limit + 1]

        by_listed = listed.annotate(
            post=Func(ArraySubquery(newest_of(OuterRef("friend"))), function="unnest")
        )
        candidates = ArraySubquery(by_listed.values("post"))
        if own_posts:  # the viewer's own range of post_author_time, one more array
            ids = ArrayField(BigIntegerField())
            own = ArraySubquery(newest_of(viewer))
            candidates = Func(candidates, own, function="array_cat", output_field=ids)
        posts = posts.filter(EqualsAny(F("pk"), candidates))
    else:
        authors = Q(author__in=listed.values("friend"))
        if own_posts:
            authors |= Q(author=viewer)
        posts = posts.filter(authors)
    return post_page(posts, viewer, start, limit)


def comment_page(viewer, post, start=0, limit=20):
    """/get_comments: a page (with `has_more`) of the comments of `post` that `viewer` may see,
    oldest first."""
    comments = (
        Comment.objects.visible_to(viewer)
        .filter(post=post)
        .select_related("author")
        .only(*COMMENT_FIELDS)
        .order_by("created_at", "id")
    )
    return page_of(comments, start, limit)


def post_by_id(posts, raw_id):
    """The post of `posts` named by `raw_id` (any string a client sent), or None."""
    post_id = parse_id(raw_id)
    return None if post_id is None else posts.filter(pk=post_id).first()


def post_visible_to(viewer, raw_id):
    """/comment, /get_comments: the post `viewer` may see with id `raw_id`; 3006 otherwise
    (hidden, by a deactivated or blocked user, deleted, or an id that is not a whole number)."""
    post = post_by_id(Post.objects.visible_to(viewer), raw_id)
    if post is None:
        raise ApiError(errors.NO_SUCH_POST)
    return post


def comment_deletable_by(viewer, email, raw_id):
    """/delComment: the comment with id `raw_id` that the user with `email` may delete (theirs, or
    one on their post), among those `viewer` may see on a post `viewer` may see; 3004 otherwise
    (hidden, an id that is not a whole number, …), as /delPost answers for posts."""
    comment_id = parse_id(raw_id)
    if comment_id is None:
        raise ApiError(errors.NO_SUCH_POST_OF_USER)
    email = normalize_email(email)
    # EXISTS, correlated to the one comment: `post__in` a subquery of the visible posts had SQLite
    # read every visible post (858 ms at 100,000 users in make bench).
    visible_post = Post.objects.visible_to(viewer).filter(pk=OuterRef("post_id"))
    comment = (
        Comment.objects.visible_to(viewer)
        .filter(Exists(visible_post), pk=comment_id)
        .filter(Q(author__email=email) | Q(post__author__email=email))
        .first()
    )
    if comment is None:
        raise ApiError(errors.NO_SUCH_POST_OF_USER)
    return comment


def post_by_author(viewer, email, *, post_id=None, time=None):
    """/delPost: the post `viewer` may see of the user with `email`, named by its id and/or its
    client timestamp (with both, both must match); 3004 when there is none. A post hidden from
    `viewer` by a block gets 3004 too, not the 9403 of another's visible post: that answer would
    tell the viewer that it is there. Among posts sharing a timestamp the latest one is meant,
    so that a retried delete removes one post at a time."""
    conditions = {"author__email": normalize_email(email)}
    if post_id is not None:
        conditions["pk"] = parse_id(post_id)
    if time is not None:
        conditions["time"] = parse_bigint(time)
    if None in conditions.values():  # not a number
        raise ApiError(errors.NO_SUCH_POST_OF_USER)
    post = Post.objects.visible_to(viewer).filter(**conditions).order_by("-id").first()
    if post is None:
        raise ApiError(errors.NO_SUCH_POST_OF_USER)
    return post


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
