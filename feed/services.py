"""Writes of the feed: posts, comments, reports, and the moderators' actions (API.md, "Feed").
Lookups that decide a not-found code live here too, so that the views keep API.md's check order:
not-found codes, then ownership (9403), then formats (9400), then the write."""

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User, normalize_email
from accounts.services import deactivatable_by, deactivate_users
from feed.forms import CommentForm, PostForm, ReportForm
from feed.models import Post, Report, parse_bigint, parse_id
from socialsite.api import ApiError, invalid, validate

NO_SUCH_POST_OF_USER = (3004, "无此数据")
NO_SUCH_POST = (3006, "没有该动态信息")
NO_SUCH_TARGET = (7000, "举报对象不存在")


def put_post(author, *, message, time):
    """Publish a post; returns it ready for `post_json` (no comments yet)."""
    form = PostForm(data={"message": message, "time": time})
    validate(form)
    try:
        with transaction.atomic():
            post = Post.objects.create(
                author=author, msg=form.cleaned_data["message"], time=form.cleaned_data["time"]
            )
    except IntegrityError:  # the author was deleted meanwhile
        raise ApiError(3000, "缺少有效参数") from None
    post.comment_count = 0
    post.latest_comments = []
    return post


def find_post_of(email, *, post_id=None, time=None):
    """The visible post of the user with `email` named by its id and/or its client timestamp
    (with both, both must match); 3004 when there is none. Among posts sharing a timestamp the
    latest one is meant, so that a retried delete removes one post at a time."""
    conditions = {"author__email": normalize_email(email)}
    if post_id is not None:
        conditions["pk"] = parse_id(post_id)
    if time is not None:
        conditions["time"] = parse_bigint(time)
    if None in conditions.values():  # not a number
        raise ApiError(*NO_SUCH_POST_OF_USER)
    post = Post.objects.visible().filter(**conditions).order_by("-id").first()
    if post is None:
        raise ApiError(*NO_SUCH_POST_OF_USER)
    return post


def delete_post(post):
    """Delete `post` and, through the foreign keys, its comments and the reports about it."""
    with transaction.atomic():
        deleted, _ = Post.objects.filter(pk=post.pk).delete()
    if not deleted:  # deleted concurrently
        raise ApiError(*NO_SUCH_POST_OF_USER)


def find_post_for(viewer, raw_id):
    """The post `viewer` may see with id `raw_id`; 3006 otherwise (hidden, by a deactivated or
    blocked user, deleted, or an id that is not a whole number)."""
    post = Post.objects.visible_to(viewer).with_id(raw_id)
    if post is None:
        raise ApiError(*NO_SUCH_POST)
    return post


def comment(post, author, text):
    """Comment on a visible post (found with `find_post_for`); surrounding whitespace goes."""
    form = CommentForm(data={"comment": text})
    validate(form)
    try:
        with transaction.atomic():
            return post.comments.create(author=author, text=form.cleaned_data["comment"])
    except IntegrityError:  # the post was deleted meanwhile
        raise ApiError(*NO_SUCH_POST) from None


def find_report_target(viewer, *, post_id=None, email=None):
    """(post, user) named by a post id and/or an email: a visible post, or an active user other
    than `viewer` (blocked users included: blocking someone does not stop one reporting them).
    7000 when a given one does not exist."""
    post = user = None
    if post_id is not None:
        post = Post.objects.visible().with_id(post_id)
        if post is None:
            raise ApiError(*NO_SUCH_TARGET)
    if email is not None:
        user = User.objects.active().exclude(pk=viewer.pk).with_email(email).first()
        if user is None:
            raise ApiError(*NO_SUCH_TARGET)
    return post, user


def report(reporter, *, post=None, user=None, reason):
    """Queue a report of `post` or of `user`. A reporter's open report of the same target is
    not repeated, so the queue holds one entry per complaint."""
    if post is not None and user is not None:
        raise invalid({"post": ["post 与 femail 只能给出一个。"]})
    form = ReportForm(data={"reason": reason})
    validate(form)
    try:
        with transaction.atomic():
            queued, _ = Report.objects.get_or_create(
                reporter=reporter,
                post=post,
                user=user,
                state=Report.State.OPEN,
                defaults={"reason": form.cleaned_data["reason"]},
            )
    except IntegrityError:  # the target was deleted meanwhile
        raise ApiError(*NO_SUCH_TARGET) from None
    return queued


# The moderators' actions (feed/admin.py).


def set_hidden(queryset, hidden):
    """Hide or show posts or comments; returns how many changed."""
    with transaction.atomic():
        return queryset.exclude(is_hidden=hidden).update(is_hidden=hidden)


def resolve_reports(reports, moderator):
    """Mark the open ones of `reports` resolved by `moderator`; returns how many."""
    with transaction.atomic():
        return reports.filter(state=Report.State.OPEN).update(
            state=Report.State.RESOLVED, resolved_by=moderator, resolved_at=timezone.now()
        )


def hide_reported_posts(reports, moderator):
    """Hide the posts that `reports` name, and resolve every open report of those posts.
    Returns (posts hidden, reports resolved)."""
    with transaction.atomic():
        post_ids = list(reports.filter(post__isnull=False).values_list("post", flat=True))
        hidden = set_hidden(Post.objects.filter(pk__in=post_ids), True)
        resolved = resolve_reports(
            Report.objects.filter(Q(pk__in=reports.values("pk")) | Q(post__in=post_ids)),
            moderator,
        )
    return hidden, resolved


def deactivate_reported_users(reports, moderator):
    """Deactivate the users that `reports` name, or whose posts they name (revoking their
    tokens), and resolve every open report of those users or of their posts.
    Returns (users deactivated, reports resolved, users skipped: the moderator themselves or
    other staff, whom only a superuser deactivates)."""
    with transaction.atomic():
        named = reports.values_list("user", "post__author")
        named_ids = {user_id for pair in named for user_id in pair if user_id is not None}
        # Reports naming someone the moderator may not deactivate (themselves, other staff)
        # stay open for someone who may.
        users = deactivatable_by(moderator, User.objects.filter(pk__in=named_ids))
        user_ids = set(users.values_list("pk", flat=True))
        deactivated = deactivate_users(User.objects.filter(pk__in=user_ids))
        resolved = resolve_reports(
            Report.objects.filter(Q(user__in=user_ids) | Q(post__author__in=user_ids)),
            moderator,
        )
    return deactivated, resolved, len(named_ids - user_ids)
