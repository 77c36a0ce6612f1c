"""Notices (API.md, "Notices"): someone added you to their list, commented on your post or liked
it. Made by notices.services from the lower apps' post_save signals, so that friends and feed
never import this app (docs/ARCHITECTURE.md, "Dependencies"); each goes with what caused it
through its foreign key (CASCADE): a removed friendship, a deleted comment, post or like."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import User
from feed.models import Comment, Like, Post
from friends.models import Block, Friendship

# API.md: a comment notice's `text` is the comment's first 50 characters.
TEXT_LENGTH = 50


class NoticeType(models.TextChoices):
    FOLLOW = "follow", "关注"
    COMMENT = "comment", "评论"
    LIKE = "like", "点赞"


class NoticeQuerySet(models.QuerySet):
    def visible_to(self, recipient):
        """`recipient`'s notices that API.md lets them see now: not from an actor who is
        deactivated or blocked either way, nor about a post or comment staff hid (hiding takes
        it out of every answer). Conditions, not deletions: the notices come back when that ends."""
        active_actor = User.objects.filter(pk=models.OuterRef("actor"), is_active=True)
        return self.filter(
            models.Exists(active_actor),
            Block.objects.unblocked_q(recipient, "actor"),
            models.Q(post__isnull=True) | models.Q(post__is_hidden=False),
            models.Q(comment__isnull=True) | models.Q(comment__is_hidden=False),
            recipient=recipient,
        )

    def unread(self):
        return self.filter(read=False)


class Notice(models.Model):
    """One notice to `recipient` about what `actor` did: a `follow` (its friendship), a `comment`
    (the comment and its post) or a `like` (the like and its post)."""

    Type = NoticeType

    # no index of its own: notice_recipient_newest starts with it
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notices",
        db_index=False,
        verbose_name="接收人",
    )
    # indexed: deleting an account deletes the notices it caused
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notices_caused",
        verbose_name="发起人",
    )
    type = models.CharField("类型", max_length=10, choices=NoticeType.choices)
    # indexed: deleting a post deletes its notices
    post = models.ForeignKey(
        Post, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name="动态"
    )
    # no index of their own: each one-per constraint below is a unique index on it
    comment = models.ForeignKey(
        Comment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name="评论",
    )
    friendship = models.ForeignKey(
        Friendship,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name="好友关系",
    )
    like = models.ForeignKey(
        Like,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name="点赞",
    )
    text = models.CharField("摘要", max_length=TEXT_LENGTH, blank=True)
    created_at = models.DateTimeField("时间", default=timezone.now)
    # A flag per notice: /read_notices is one UPDATE of the unread rows up to an id, and the
    # unread ones are a range of the partial index notice_recipient_unread.
    read = models.BooleanField("已读", default=False)

    objects = NoticeQuerySet.as_manager()

    class Meta:
        verbose_name = "通知"
        verbose_name_plural = "通知"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=NoticeType.values),
                name="%(app_label)s_%(class)s_type",
            ),
            # each type names exactly what caused it (and that thing's post)
            models.CheckConstraint(
                condition=models.Q(
                    type=NoticeType.FOLLOW,
                    friendship__isnull=False,
                    post__isnull=True,
                    comment__isnull=True,
                    like__isnull=True,
                )
                | models.Q(
                    type=NoticeType.COMMENT,
                    comment__isnull=False,
                    post__isnull=False,
                    friendship__isnull=True,
                    like__isnull=True,
                )
                | models.Q(
                    type=NoticeType.LIKE,
                    like__isnull=False,
                    post__isnull=False,
                    friendship__isnull=True,
                    comment__isnull=True,
                ),
                name="%(app_label)s_%(class)s_target_of_type",
            ),
            # API.md: nobody is notified of their own actions
            models.CheckConstraint(
                condition=~models.Q(recipient=models.F("actor")),
                name="%(app_label)s_%(class)s_not_self",
            ),
            # one notice per friendship, comment and like (one like per user and post: so one
            # like notice per actor and post)
            models.UniqueConstraint(
                fields=["friendship"],
                condition=models.Q(friendship__isnull=False),
                name="%(app_label)s_%(class)s_one_per_friendship",
            ),
            models.UniqueConstraint(
                fields=["comment"],
                condition=models.Q(comment__isnull=False),
                name="%(app_label)s_%(class)s_one_per_comment",
            ),
            models.UniqueConstraint(
                fields=["like"],
                condition=models.Q(like__isnull=False),
                name="%(app_label)s_%(class)s_one_per_like",
            ),
        ]
        indexes = [
            # /get_notices: my notices, newest first
            models.Index(fields=["recipient", "-id"], name="notice_recipient_newest"),
            # /get_notices?unread=1 and /get_badges' count: my unread notices only
            models.Index(
                fields=["recipient", "-id"],
                condition=models.Q(read=False),
                name="notice_recipient_unread",
            ),
        ]

    def __str__(self):
        return f"{self.actor} → {self.recipient}: {self.get_type_display()}"
