from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import User
from friends.models import Block


def visible_q():
    """Not hidden by staff and written by an active user. The author's state is an EXISTS on
    their primary key, not a condition on the joined author: given one, SQLite builds a Bloom
    filter of every active user before reading a page, a cost that grows with the site."""
    active_author = User.objects.filter(pk=models.OuterRef("author"), is_active=True)
    return models.Q(is_hidden=False) & models.Q(models.Exists(active_author))


class VisibilityQuerySet(models.QuerySet):
    """Shared by posts and comments: what the API may show at all, and to one viewer."""

    def visible(self):
        return self.filter(visible_q())

    def visible_to(self, viewer):
        return self.filter(visible_q() & Block.objects.unblocked_q(viewer, "author"))


class PostQuerySet(VisibilityQuerySet):
    def newest_first(self):
        return self.order_by("-time", "-id")


class Post(models.Model):
    """A post. `time` is the client's timestamp (API.md); `created_at` is the server's."""

    # no index of its own: post_author_time starts with it
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts", db_index=False
    )
    msg = models.TextField("内容", max_length=2000)
    time = models.BigIntegerField("客户端时间戳")
    created_at = models.DateTimeField("发布时间", default=timezone.now)
    is_hidden = models.BooleanField("已隐藏", default=False)

    objects = PostQuerySet.as_manager()

    class Meta:
        verbose_name = "动态"
        verbose_name_plural = "动态"
        indexes = [
            # the timeline (authors in my list) and /getPost?email=, newest first
            models.Index(fields=["author", "-time", "-id"], name="post_author_time"),
            # /getPost?oldTime=
            models.Index(fields=["-time", "-id"], name="post_time"),
        ]

    def __str__(self):
        return f"{self.author}: {self.msg[:30]}"


class Comment(models.Model):
    # no index of its own: comment_post_created starts with it
    post = models.ForeignKey(
        Post, on_delete=models.CASCADE, related_name="comments", db_index=False
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments"
    )
    text = models.CharField("评论", max_length=500)
    created_at = models.DateTimeField("评论时间", default=timezone.now)
    is_hidden = models.BooleanField("已隐藏", default=False)

    objects = VisibilityQuerySet.as_manager()

    class Meta:
        verbose_name = "评论"
        verbose_name_plural = "评论"
        indexes = [models.Index(fields=["post", "created_at", "id"], name="comment_post_created")]

    def __str__(self):
        return f"{self.author}: {self.text[:30]}"


class ReportState(models.TextChoices):
    OPEN = "open", "待处理"
    RESOLVED = "resolved", "已处理"


class Report(models.Model):
    """A report of a post or of a user, queued for the moderators."""

    State = ReportState

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="reports_made",
        verbose_name="举报人",
    )
    post = models.ForeignKey(
        Post,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name="被举报的动态",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="被举报的用户",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reports_received",
    )
    reason = models.CharField("理由", max_length=500, blank=True)
    state = models.CharField(
        "状态", max_length=10, choices=ReportState.choices, default=ReportState.OPEN
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports_resolved",
        verbose_name="处理人",
    )
    resolved_at = models.DateTimeField("处理时间", null=True, blank=True)
    created_at = models.DateTimeField("举报时间", default=timezone.now)

    class Meta:
        verbose_name = "举报"
        verbose_name_plural = "举报"
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(post__isnull=False, user__isnull=True)
                    | models.Q(post__isnull=True, user__isnull=False)
                ),
                name="%(app_label)s_%(class)s_one_target",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=ReportState.values),
                name="%(app_label)s_%(class)s_state",
            ),
            # one open report per reporter and target, even when the same report races itself
            models.UniqueConstraint(
                fields=["reporter", "post"],
                condition=models.Q(state=ReportState.OPEN, post__isnull=False),
                name="report_one_open_per_post",
            ),
            models.UniqueConstraint(
                fields=["reporter", "user"],
                condition=models.Q(state=ReportState.OPEN, user__isnull=False),
                name="report_one_open_per_user",
            ),
        ]
        indexes = [models.Index(fields=["state", "-created_at"], name="report_queue")]

    def __str__(self):
        return f"#{self.pk} {self.get_state_display()}"
