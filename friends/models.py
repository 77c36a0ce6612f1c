from django.conf import settings
from django.db import models
from django.utils import timezone

from socialsite.orm import one_or_none


class Group(models.TextChoices):
    """The four groups of API.md, sent and received as the strings "1"–"4"."""

    SPECIAL = "1", "特别关心"
    GOOD = "2", "好朋友"
    NORMAL = "3", "普通朋友"
    OTHER = "4", "其他"


def user_pair_constraints(first, second):
    """The constraints of a directed relation between two users (Friendship, Block): one row per
    ordered pair, never a user with themselves. A function rather than an abstract base model
    (bookwyrm's UserRelationship): the two relations keep their own field and column names."""
    return [
        models.UniqueConstraint(fields=[first, second], name="%(app_label)s_%(class)s_unique_pair"),
        models.CheckConstraint(
            condition=~models.Q(**{first: models.F(second)}),
            name="%(app_label)s_%(class)s_not_self",
        ),
    ]


class FriendshipQuerySet(models.QuerySet):
    def with_active_friend(self):
        """Entries whose friend has not been deactivated by staff (API.md: hidden everywhere)."""
        return self.filter(friend__is_active=True)

    def mutual(self):
        """Entries whose friend lists the owner back (a mutual friendship): an EXISTS of the
        reverse row, one lookup of the unique (owner, friend) index each."""
        lists_back = Friendship.objects.filter(
            owner=models.OuterRef("friend"), friend=models.OuterRef("owner")
        )
        return self.filter(models.Exists(lists_back))

    def entry(self, owner, friend):
        """`owner`'s entry for `friend`, with `mutual`: whether `friend` lists `owner` too.
        None when `owner` does not list them."""
        lists_owner_back = Friendship.objects.filter(owner=friend, friend=owner)
        return one_or_none(
            self.filter(owner=owner, friend=friend).annotate(mutual=models.Exists(lists_owner_back))
        )

    def between(self, user, other):
        """The entries linking the two users, in either direction."""
        return self.filter(models.Q(owner=user, friend=other) | models.Q(owner=other, friend=user))


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
            *user_pair_constraints("owner", "friend"),
            models.CheckConstraint(
                condition=models.Q(group__in=Group.values), name="%(app_label)s_%(class)s_group"
            ),
        ]
        indexes = [
            # "my list in add order"
            models.Index(fields=["owner", "created_at", "id"], name="friendship_owner_added"),
            # "who lists me": mutual checks and friends-of-friends
            models.Index(fields=["friend", "owner"], name="friendship_friend_owner"),
            # "who lists me, newest first" (/get_followers), read backwards
            models.Index(fields=["friend", "created_at", "id"], name="friendship_friend_added"),
        ]

    def __str__(self):
        return f"{self.owner} → {self.friend} ({self.get_group_display()})"


class BlockQuerySet(models.QuerySet):
    def involving(self, user):
        """The blocks `user` made or received: each hides the other side from `user`."""
        return self.filter(models.Q(blocker=user) | models.Q(blocked=user))

    def between(self, one, other):
        """The blocks between two users, in either direction."""
        return self.involving(one).filter(models.Q(blocker=other) | models.Q(blocked=other))

    def unblocked_q(self, viewer, user_field="pk"):
        """A condition on a model whose `user_field` is a user: not one `viewer` blocked or who
        blocked `viewer`, the rule "blocked either way" that users, posts and comments share.
        Two NOT IN subqueries, each a range of one of the block table's two indexes."""
        in_field = f"{user_field}__in"
        blocked = self.filter(blocker=viewer).values("blocked")
        blockers = self.filter(blocked=viewer).values("blocker")
        return ~models.Q(**{in_field: blocked}) & ~models.Q(**{in_field: blockers})


class Block(models.Model):
    """`blocker` blocked `blocked`: each is hidden from the other."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_made"
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_received"
    )
    created_at = models.DateTimeField("拉黑时间", default=timezone.now)

    objects = BlockQuerySet.as_manager()

    class Meta:
        verbose_name = "拉黑"
        verbose_name_plural = "拉黑"
        constraints = user_pair_constraints("blocker", "blocked")
        indexes = [
            models.Index(fields=["blocked", "blocker"], name="block_blocked_blocker"),
            # "my block list, newest first" (/get_blocks), read backwards
            models.Index(fields=["blocker", "created_at", "id"], name="block_blocker_added"),
        ]

    def __str__(self):
        return f"{self.blocker} ⊘ {self.blocked}"


class FollowersSeen(models.Model):
    """The newest `since` (a friendship's created_at) that the first page of /get_followers
    returned to `user`: /get_badges counts the users who added them after it (API.md). It only
    moves forward, so that a page read in a race, or one whose newest follower has left, never
    counts old followers again."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    seen_until = models.DateTimeField("已看到")

    class Meta:
        verbose_name = "已看过的关注者"
        verbose_name_plural = "已看过的关注者"

    def __str__(self):
        return f"{self.user_id}: {self.seen_until}"


class InterestTag(models.Model):
    """One normalized interest ("篮球", "music"), shared by everyone who lists it in `like`."""

    MAX_LENGTH = 20

    name = models.CharField("名称", max_length=MAX_LENGTH, unique=True)

    class Meta:
        verbose_name = "兴趣标签"
        verbose_name_plural = "兴趣标签"
        ordering = ["name"]

    def __str__(self):
        return self.name


class UserInterest(models.Model):
    """`user`'s `like` names `tag`; `position` keeps the order the user wrote them in.
    Derived from `User.like` by `friends.interests.sync_interests`, never edited directly."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="interests"
    )
    tag = models.ForeignKey(InterestTag, on_delete=models.CASCADE, related_name="user_links")
    position = models.PositiveSmallIntegerField("顺序")

    class Meta:
        verbose_name = "用户兴趣"
        verbose_name_plural = "用户兴趣"
        ordering = ["user", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "tag"], name="%(app_label)s_%(class)s_unique_pair"
            ),
        ]
        # "who shares this tag": the join of shared interests starts from the caller's tags.
        indexes = [models.Index(fields=["tag", "user"], name="userinterest_tag_user")]

    def __str__(self):
        return f"{self.user}: {self.tag}"


class SearchField(models.TextChoices):
    LIKE = "like", "爱好"
    FLIKE = "flike", "交友方向"


class SearchInterest(models.Model):
    """A `like` or `flike` term `user` searched for on /get_data, remembered for /recommend.
    Only the most recent `KEPT_PER_USER` terms are kept."""

    KEPT_PER_USER = 10

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="search_interests"
    )
    field = models.CharField("字段", max_length=5, choices=SearchField.choices)
    term = models.CharField("搜索词", max_length=200)
    searched_at = models.DateTimeField("最近搜索", default=timezone.now)

    class Meta:
        verbose_name = "搜索兴趣"
        verbose_name_plural = "搜索兴趣"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "field", "term"], name="%(app_label)s_%(class)s_unique_term"
            ),
            models.CheckConstraint(
                condition=models.Q(field__in=SearchField.values),
                name="%(app_label)s_%(class)s_field",
            ),
        ]
        indexes = [models.Index(fields=["user", "-searched_at"], name="searchinterest_user_recent")]

    def __str__(self):
        return f"{self.user} {self.field}: {self.term}"
