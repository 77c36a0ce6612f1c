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


# API.md, /putPost: 1 to 9 images a post.
MAX_POST_IMAGES = 9


class PostImageQuerySet(models.QuerySet):
    def files_of(self, posts):
        """(storage, name) of the image files of `posts` (a queryset of posts): read inside the
        transaction that deletes them, deleted once it commits."""
        storage = self.model._meta.get_field("file").storage
        names = self.filter(post__in=posts.values("pk")).values_list("file", flat=True)
        return [(storage, name) for name in names]


class PostImage(models.Model):
    """One of a post's images: a WebP file in media storage, made by the image pipeline
    (accounts.avatars) and fitted within 1080×1080, at `position` 0 to 8 in the post. Made with
    the post and never changed; the file is deleted once the row's deletion commits
    (services.delete_posts, and accounts.extensions.account_files for a deleted account)."""

    # no index of its own: the (post, position) constraint's starts with it
    post = models.ForeignKey(
        Post,
        on_delete=models.CASCADE,
        related_name="images",
        db_index=False,
        verbose_name="动态",
    )
    position = models.PositiveSmallIntegerField("序号")
    file = models.ImageField("图片", upload_to="posts/")

    objects = PostImageQuerySet.as_manager()

    class Meta:
        verbose_name = "动态图片"
        verbose_name_plural = "动态图片"
        constraints = [
            models.UniqueConstraint(
                fields=["post", "position"], name="%(app_label)s_%(class)s_one_per_position"
            ),
            models.CheckConstraint(
                condition=models.Q(position__gte=0, position__lt=MAX_POST_IMAGES),
                name="%(app_label)s_%(class)s_position",
            ),
        ]

    def __str__(self):
        return f"#{self.post_id} 第 {self.position + 1} 张"


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


class Like(models.Model):
    """`user` likes `post`: one row per user and post (API.md, /like). Written with create() and
    deleted through the ORM, never in raw SQL, so that post_save and post_delete fire for an app
    above feed that follows likes (docs/ARCHITECTURE.md)."""

    # no index of its own: feed_like_unique_pair starts with it
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="post_likes",
        db_index=False,
    )
    # no index of its own: like_post_user starts with it
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes", db_index=False)
    created_at = models.DateTimeField("点赞时间", default=timezone.now)

    class Meta:
        verbose_name = "点赞"
        verbose_name_plural = "点赞"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "post"], name="%(app_label)s_%(class)s_unique_pair"
            ),
        ]
        # a post's likes, counted with each liker's state (active, not blocked) by their id
        indexes = [models.Index(fields=["post", "user"], name="like_post_user")]

    def __str__(self):
        return f"{self.user} ♥ {self.post_id}"


class ReportState(models.TextChoices):
    OPEN = "open", "待处理"
    RESOLVED = "resolved", "已处理"


# A reported user's copy: the texts of their profile that they wrote themselves and show others,
# which is what a report of a user is about (an offensive name or introduction, a scam in
# `like`). Not the avatar (an image, deleted with the account), not sex or birthday (choices,
# nothing written), and never the email: it is how they log in, and it goes with the account.
REPORTED_PROFILE_FIELDS = ("username", "name", "introduction", "like", "flike", "location")


def reported_text(*, post=None, user=None):
    """The copy of the reported text a report keeps (API.md, /report): a post's message, or a
    user's self-written profile texts, one "label：value" line each (empty ones left out).
    feed/migrations/0007_fill_reported_text.py holds a copy of it for the reports filed before."""
    if post is not None:
        return post.msg
    lines = []
    for name in REPORTED_PROFILE_FIELDS:
        value = getattr(user, name)
        if value:
            lines.append(f"{user._meta.get_field(name).verbose_name}：{value}")
    return "\n".join(lines)


class Report(models.Model):
    """A report of a post or of a user, queued for the moderators. It outlives both: when the
    reporter deletes their account it stays without a reporter, when the target goes (a deleted
    post or account) without a target, and `reported_text` keeps what was reported."""

    State = ReportState

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports_made",
        verbose_name="举报人",
    )
    post = models.ForeignKey(
        Post,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name="被举报的动态",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="被举报的用户",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports_received",
    )
    reported_text = models.TextField(
        "被举报的内容", blank=True, help_text="举报时留下的副本：动态的内容，或用户自己写的资料。"
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
            # A report is filed with one target; a deleted one (SET_NULL) leaves none.
            models.CheckConstraint(
                condition=models.Q(post__isnull=True) | models.Q(user__isnull=True),
                name="%(app_label)s_%(class)s_at_most_one_target",
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
