"""Writes of the feed: posts, comments, likes, reports, and the moderators' actions (API.md,
"Feed"). The look-ups that come before them are in queries.py."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import avatars, extensions
from accounts.models import User
from accounts.services import deactivatable_by, deactivate_users
from feed import errors, queries
from feed.forms import CommentForm, PostForm, ReportForm
from feed.models import MAX_POST_IMAGES, Comment, Like, Post, PostImage, Report, reported_text
from socialsite import ratelimit
from socialsite.api import validate
from socialsite.errors import ApiError
from socialsite.orm import lock_rows

# API.md: more than 30 posts, or 60 comments, per user in 10 minutes → 9429. The views check them
# first; a post or comment is counted when it is stored.
POST_LIMIT = ratelimit.ActionLimit("posts", limit=30, window=10 * 60)
COMMENT_LIMIT = ratelimit.ActionLimit("comments", limit=60, window=10 * 60)
# API.md, /putPost: each image checked and stored as an avatar is, but fitted within 1080×1080.
POST_IMAGE_BOX = (1080, 1080)


def _serialize_writes_of(user):
    """Lock `user`'s row until the transaction ends, so that their concurrent posts (or comments)
    are counted one after the other and cannot each find room for one more."""
    lock_rows(User, [user.pk], no_key=True)


def put_post(author, *, message, time, images=()):
    """Publish a post with the base64 `images` (0 to 9); returns it with its `image_list`
    (serializers.new_post_row). Nothing is stored unless the message, the time and every image
    are valid."""
    form = PostForm(data={"message": message, "time": time})
    validate(form)
    # Decoded and written before the transaction: the author's row stays locked for the inserts
    # only, not for the seconds of CPU that nine large images may take.
    names = _store_images(_post_images(images))
    try:
        post = _insert_post(author, form.cleaned_data, names)
    except BaseException:
        _delete_files(names)  # the post was not stored: the files are nobody's
        raise
    return post


def _post_images(images):
    """The re-encoded files of a post's base64 `images`, in order (accounts.avatars, fitted within
    POST_IMAGE_BOX); 9400 for more than MAX_POST_IMAGES, counted before any is decoded, or at the
    first that is not an acceptable image (the rest are not decoded)."""
    if len(images) > MAX_POST_IMAGES:
        raise ValidationError({"images": [f"至多 {MAX_POST_IMAGES} 张图片。"]})
    files = []
    for number, text in enumerate(images, start=1):
        try:
            files.append(avatars.from_base64(text, box=POST_IMAGE_BOX))
        except avatars.InvalidAvatar as error:
            raise ValidationError({"images": [f"第 {number} 张图片：{error}"]}) from None
    return files


def _store_images(files):
    """Write `files` to PostImage's storage; returns their names. A failure deletes those
    written."""
    field = PostImage._meta.get_field("file")
    names = []
    try:
        for content in files:
            names.append(field.storage.save(field.generate_filename(None, content.name), content))
    except BaseException:
        _delete_files(names)
        raise
    return names


def _delete_files(names):
    storage = PostImage._meta.get_field("file").storage
    for name in names:
        storage.delete(name)


def _insert_post(author, cleaned_data, image_names):
    try:
        with transaction.atomic():
            _serialize_writes_of(author)
            post = Post.objects.create(
                author=author, msg=cleaned_data["message"], time=cleaned_data["time"]
            )
            post.image_list = PostImage.objects.bulk_create(
                PostImage(post=post, position=position, file=name)
                for position, name in enumerate(image_names)
            )
            POST_LIMIT.count(author.pk)  # a refusal rolls the post back
    except IntegrityError:  # the author was deleted meanwhile
        raise ApiError(errors.INVALID_POST) from None
    return post


def delete_post(post):
    """/delPost: delete `post` (see `delete_posts`)."""
    if not delete_posts(Post.objects.filter(pk=post.pk)):  # deleted concurrently
        raise ApiError(errors.NO_SUCH_POST_OF_USER)


def delete_posts(posts):
    """Delete `posts` (a queryset: /delPost's one, the admin's) and, through the foreign keys,
    their comments and images, whose files go once the deletion has committed; the reports about
    them stay queued, without them, with their copy of the text. Returns how many posts went."""
    with transaction.atomic():
        doomed = Post.objects.filter(pk__in=list(posts.values_list("pk", flat=True)))
        files = PostImage.objects.files_of(doomed)
        _, per_model = doomed.delete()
        for storage, name in files:
            avatars.delete_on_commit(name, storage)
    return per_model.get(Post._meta.label, 0)


def image_files_of_accounts(users):
    """accounts.extensions.account_files: the image files of the posts of `users` (a queryset),
    which go with their accounts."""
    return PostImage.objects.files_of(Post.objects.filter(author__in=users.values("pk")))


def comment(post, author, text):
    """Comment on a visible post (found with `queries.post_visible_to`); surrounding whitespace
    goes."""
    form = CommentForm(data={"comment": text})
    validate(form)
    try:
        with transaction.atomic():
            _serialize_writes_of(author)
            stored = post.comments.create(author=author, text=form.cleaned_data["comment"])
            COMMENT_LIMIT.count(author.pk)  # a refusal rolls the comment back
            return stored
    except IntegrityError:  # the post was deleted meanwhile
        raise ApiError(errors.NO_SUCH_POST) from None


def delete_comment(comment):
    """Delete `comment` (found with `queries.comment_deletable_by`) through the ORM, so that
    post_delete fires for the apps above feed."""
    with transaction.atomic():
        deleted, _ = Comment.objects.filter(pk=comment.pk).delete()
    if not deleted:  # deleted concurrently
        raise ApiError(errors.NO_SUCH_POST_OF_USER)


def like(post, user):
    """`user` likes a visible `post` (found with `queries.post_visible_to`); idempotent, also when
    the same like races itself: the unique pair decides, and get_or_create then finds the row
    stored by the other call. Created with the ORM, so that post_save fires once, for the stored
    like. Returns `queries.like_state`."""
    try:
        with transaction.atomic():
            Like.objects.get_or_create(user=user, post=post)
    except IntegrityError:  # the post was deleted meanwhile
        raise ApiError(errors.NO_SUCH_POST) from None
    return queries.like_state(post, user)


def unlike(post, user):
    """Take back `user`'s like of `post`; idempotent. A queryset delete, which sends post_delete
    for the row it deletes. Returns `queries.like_state`."""
    with transaction.atomic():
        Like.objects.filter(user=user, post=post).delete()
    return queries.like_state(post, user)


def report(reporter, *, post=None, user=None, elsewhere=None, reason):
    """Queue a report of `post` or of `user`, with a copy of the reported text taken now
    (models.reported_text): the report outlives the post and the account. A reporter's open
    report of the same target is not repeated, so the queue holds one entry per complaint.
    `elsewhere` ({name: target}, from queries.other_report_targets) names a target of an app
    above feed instead, which that app queues (accounts.extensions.report_targets)."""
    elsewhere = elsewhere or {}
    if (post is not None) + (user is not None) + len(elsewhere) > 1:
        names = ", ".join(["post", "femail", *extensions.report_targets])
        raise ValidationError({"post": [f"{names} 只能给出一个。"]})
    form = ReportForm(data={"reason": reason})
    validate(form)
    for name, target in elsewhere.items():
        queued = extensions.report_targets[name].file(reporter, target, form.cleaned_data["reason"])
        if queued is None:  # the target was deleted meanwhile
            raise ApiError(errors.NO_SUCH_REPORT_TARGET)
        return queued
    try:
        with transaction.atomic():
            queued, _ = Report.objects.get_or_create(
                reporter=reporter,
                post=post,
                user=user,
                state=Report.State.OPEN,
                defaults={
                    "reason": form.cleaned_data["reason"],
                    "reported_text": reported_text(post=post, user=user),
                },
            )
    except IntegrityError:  # the target was deleted meanwhile
        raise ApiError(errors.NO_SUCH_REPORT_TARGET) from None
    return queued


# The moderators' actions (feed/admin.py).


def set_hidden(queryset, *, hidden):
    """Hide (`hidden=True`) or show posts or comments; returns how many changed."""
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
        hidden = set_hidden(Post.objects.filter(pk__in=post_ids), hidden=True)
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
