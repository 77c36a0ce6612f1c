from django.conf import settings
from django.db import models
from django.utils import timezone


class Group(models.TextChoices):
    """The four groups of API.md, sent and received as the strings "1"–"4"."""

    SPECIAL = "1", "特别关心"
    GOOD = "2", "好朋友"
    NORMAL = "3", "普通朋友"
    OTHER = "4", "其他"


class FriendshipQuerySet(models.QuerySet):
    def listed_by(self, user):
        """The entries of `user`'s list, in the order they were first added."""
        return self.filter(owner=user).order_by("created_at", "id")


class Friendship(models.Model):
    """`owner` lists `friend` in one group. Directed, like following."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="friendships"
    )
    friend = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="listed_by"
    )
    group = models.CharField("组别", max_length=1, choices=Group.choices)
    created_at = models.DateTimeField("添加时间", default=timezone.now)

    objects = FriendshipQuerySet.as_manager()

    class Meta:
        verbose_name = "好友关系"
        verbose_name_plural = "好友关系"
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "friend"], name="%(app_label)s_%(class)s_unique_pair"
            ),
            models.CheckConstraint(
                condition=~models.Q(owner=models.F("friend")),
                name="%(app_label)s_%(class)s_not_self",
            ),
            models.CheckConstraint(
                condition=models.Q(group__in=Group.values), name="%(app_label)s_%(class)s_group"
            ),
        ]
        indexes = [
            # "my list in add order"
            models.Index(fields=["owner", "created_at", "id"], name="friendship_owner_added"),
            # "who lists me": mutual checks and friends-of-friends
            models.Index(fields=["friend", "owner"], name="friendship_friend_owner"),
        ]

    def __str__(self):
        return f"{self.owner} → {self.friend} ({self.get_group_display()})"


class Block(models.Model):
    """`blocker` blocked `blocked`: each is hidden from the other."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_made"
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_received"
    )
    created_at = models.DateTimeField("拉黑时间", default=timezone.now)

    class Meta:
        verbose_name = "拉黑"
        verbose_name_plural = "拉黑"
        constraints = [
            models.UniqueConstraint(
                fields=["blocker", "blocked"], name="%(app_label)s_%(class)s_unique_pair"
            ),
            models.CheckConstraint(
                condition=~models.Q(blocker=models.F("blocked")),
                name="%(app_label)s_%(class)s_not_self",
            ),
        ]
        indexes = [models.Index(fields=["blocked", "blocker"], name="block_blocked_blocker")]

    def __str__(self):
        return f"{self.blocker} ⊘ {self.blocked}"
