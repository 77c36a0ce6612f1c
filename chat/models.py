"""Conversations, messages, each user's side of a conversation (read state and the last
message, for /get_chats), and the reports of messages (API.md, "Chat")."""

from django.conf import settings
from django.db import models
from django.utils import timezone


def ordered_pair(one, other):
    """The ids of two users in a conversation's canonical order (user_a < user_b)."""
    return tuple(sorted((one.pk, other.pk)))


class Conversation(models.Model):
    """The conversation of one unordered pair of users: user_a is the one with the smaller id.
    Created with its first message, with its two Participant rows."""

    # no index of its own: the unique pair starts with it
    user_a = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    user_b = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField("开始时间", default=timezone.now)

    class Meta:
        verbose_name = "会话"
        verbose_name_plural = "会话"
        constraints = [
            models.UniqueConstraint(
                fields=["user_a", "user_b"], name="%(app_label)s_%(class)s_unique_pair"
            ),
            models.CheckConstraint(
                condition=models.Q(user_a__lt=models.F("user_b")),
                name="%(app_label)s_%(class)s_ordered_pair",
            ),
        ]

    def __str__(self):
        return f"#{self.pk}"


class MessageQuerySet(models.QuerySet):
    def visible(self):
        """Not hidden by a moderator (API.md: hidden messages leave every answer)."""
        return self.filter(is_hidden=False)


class Message(models.Model):
    """One message. Within a conversation messages are stored one at a time (the send locks the
    conversation row), so their ids rise in commit order and `after_id` never skips one. A
    recalled message keeps its row and id; its text is emptied."""

    # no index of its own: chat_message_conversation_id starts with it
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    # no index of its own: chat_message_sender_unread starts with it
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="messages_sent",
        db_index=False,
    )
    text = models.TextField("内容", max_length=2000)
    created_at = models.DateTimeField("发送时间", default=timezone.now)
    # NULL, not "", for none: the Message object says null, and the constraint leaves NULLs out
    client_id = models.CharField("客户端 ID", max_length=64, null=True, blank=True)  # noqa: DJ001
    recalled_at = models.DateTimeField("撤回时间", null=True, blank=True)
    is_hidden = models.BooleanField("已隐藏", default=False)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = "私信"
        verbose_name_plural = "私信"
        constraints = [
            # a retried send (the same sender, the same client_id) stores one message, even when
            # the two requests race each other
            models.UniqueConstraint(
                fields=["sender", "client_id"],
                condition=models.Q(client_id__isnull=False),
                name="%(app_label)s_%(class)s_one_per_client_id",
            ),
        ]
        indexes = [
            # /get_msgs' pages (both cursors), a report's context
            models.Index(fields=["conversation", "id"], name="chat_message_conversation_id"),
            # the unread counts of /get_chats and /read_msgs: one sender's messages in one
            # conversation above an id
            models.Index(
                fields=["sender", "conversation", "id"], name="chat_message_sender_unread"
            ),
        ]

    def __str__(self):
        return f"#{self.pk}"

    @property
    def recalled(self):
        return self.recalled_at is not None


class Participant(models.Model):
    """One user's side of a conversation: the newest message of the peer they have read
    (`read_id`, 0 for none) and the conversation's newest visible message (`last_message`, the
    same on both sides, set in the send's transaction), by which /get_chats pages through one
    range of chat_participant_user_last without reading any message but the page's."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    # no index of its own: chat_participant_user_last starts with it
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    peer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_id = models.BigIntegerField("已读到", default=0)
    last_message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "会话成员"
        verbose_name_plural = "会话成员"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "peer"], name="%(app_label)s_%(class)s_unique_pair"
            ),
            models.CheckConstraint(
                condition=~models.Q(user=models.F("peer")),
                name="%(app_label)s_%(class)s_not_self",
            ),
        ]
        indexes = [
            # /get_chats: my conversations by last message, newest first
            models.Index(fields=["user", "-last_message"], name="chat_participant_user_last"),
        ]

    def __str__(self):
        return f"{self.user_id} ↔ {self.peer_id}"


class ReportState(models.TextChoices):
    OPEN = "open", "待处理"
    RESOLVED = "resolved", "已处理"


class MessageReport(models.Model):
    """A report of a message its recipient filed (API.md, /report's `message`), queued for the
    moderators. It keeps, as filed, a copy of the message's text and of its context: the 20
    messages before and after it in its conversation (`context`: a list of {"id", "from":
    "sender" | "reporter", "msg", "created_at", "recalled"}, no email). It outlives the message
    and both accounts (SET_NULL), like feed's reports."""

    State = ReportState
    CONTEXT_SIZE = 20

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="message_reports_made",
        verbose_name="举报人",
    )
    message = models.ForeignKey(
        Message,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name="被举报的私信",
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="message_reports_received",
        verbose_name="发送人",
    )
    reported_text = models.TextField("被举报的内容", blank=True, help_text="举报时留下的副本。")
    context = models.JSONField("上下文", default=list, blank=True)
    reason = models.CharField("理由", max_length=500, blank=True)
    state = models.CharField(
        "状态", max_length=10, choices=ReportState.choices, default=ReportState.OPEN
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="message_reports_resolved",
        verbose_name="处理人",
    )
    resolved_at = models.DateTimeField("处理时间", null=True, blank=True)
    created_at = models.DateTimeField("举报时间", default=timezone.now)

    class Meta:
        verbose_name = "私信举报"
        verbose_name_plural = "私信举报"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=ReportState.values),
                name="%(app_label)s_%(class)s_state",
            ),
            # one open report per reporter and message, even when the same report races itself
            models.UniqueConstraint(
                fields=["reporter", "message"],
                condition=models.Q(state=ReportState.OPEN, message__isnull=False),
                name="%(app_label)s_%(class)s_one_open_per_message",
            ),
        ]
        indexes = [models.Index(fields=["state", "-created_at"], name="messagereport_queue")]

    def __str__(self):
        return f"#{self.pk} {self.get_state_display()}"
