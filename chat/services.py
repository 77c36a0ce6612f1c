"""Writes of the chat: sending, reading, recalling, reporting a message, and the moderators'
actions (API.md, "Chat"). The look-ups before them are in queries.py. Frames for the users'
sockets are pushed after commit (socialsite.realtime.push): a rolled-back write pushes nothing,
and a channel layer that cannot be reached never fails the write."""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from accounts.services import deactivatable_by, deactivate_users
from chat import errors, queries
from chat.forms import SendForm
from chat.models import Conversation, Message, MessageReport, Participant, ordered_pair
from chat.serializers import message_json
from socialsite import ratelimit, realtime
from socialsite.api import validate
from socialsite.errors import ApiError
from socialsite.orm import lock_rows, one_or_none

# API.md: more than 20 messages per sender in 10 s → 9429. The view checks it first (after a
# repeated client_id, which answers before it); a message is counted when it is stored.
SEND_LIMIT = ratelimit.ActionLimit("messages", limit=20, window=10)
RECALL_WINDOW = timedelta(minutes=2)


def _serialize_writes_of(user):
    """Lock `user`'s row until the transaction ends, so that their concurrent sends are counted
    one after the other (SEND_LIMIT)."""
    lock_rows(User, [user.pk], no_key=True)


def _locked_conversation(one, other):
    """The conversation of the two users, created with its two sides if it is new, its row
    locked until the transaction ends: the messages of one conversation are stored one at a
    time, so that their ids rise in commit order (API.md: `after_id` never skips one)."""
    user_a, user_b = ordered_pair(one, other)
    pair = Conversation.objects.select_for_update().filter(user_a=user_a, user_b=user_b)
    conversation = one_or_none(pair)
    if conversation is None:
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(user_a_id=user_a, user_b_id=user_b)
                Participant.objects.bulk_create(
                    [
                        Participant(conversation=conversation, user=one, peer=other),
                        Participant(conversation=conversation, user=other, peer=one),
                    ]
                )
        except IntegrityError:  # the two users' first messages raced: the other one made it
            conversation = one_or_none(pair)
            if conversation is None:  # or an account was deleted meanwhile
                raise
    return conversation


def send_message(sender, recipient, *, text, client_id=None):
    """Store a message from `sender` to `recipient` (an active user) and push it to both; a
    `client_id` that `sender` used before returns the message stored then, not a second one
    (API.md: a retry never fails)."""
    form = SendForm(data={"msg": text, "client_id": client_id or ""})
    validate(form)
    text, client_id = form.cleaned_data["msg"], form.cleaned_data["client_id"]
    queries.refuse_unless_mutual(sender, recipient)
    try:
        with transaction.atomic():
            _serialize_writes_of(sender)
            conversation = _locked_conversation(sender, recipient)
            message = Message.objects.create(
                conversation=conversation, sender=sender, text=text, client_id=client_id
            )
            SEND_LIMIT.count(sender.pk)  # a refusal rolls the message back
            Participant.objects.filter(conversation=conversation).update(last_message=message)
            frame = {"type": "message", "data": message_json(message, sender, recipient)}
            realtime.push([sender.pk, recipient.pk], frame)
    except IntegrityError:
        # the same client_id stored by a racing request (the constraint decides: a retry that
        # came in while the first send was being stored), or an account deleted meanwhile
        stored = queries.stored_message(sender, client_id)
        if stored is not None:
            return stored
        raise ApiError(errors.NO_SUCH_PEER) from None
    return message


def resend_stored(sender, message, recipient):
    """The answer to a retried send (a client_id `sender` used before): the stored `message`,
    pushed again to both users. Its first push may never have gone out (the worker killed between
    the commit and the push, the client left without an answer): the peer's open sockets would
    then never see it, and would skip it when they catch up from the newest id they have
    (API.md, "Delivery"). A socket that has it drops it by id. Not pushed when it would not be
    now: hidden by a moderator, or the two users blocked."""
    if not message.is_hidden and not queries.blocked_between(sender, recipient):
        frame = {"type": "message", "data": message_json(message, sender, recipient)}
        realtime.push([sender.pk, recipient.pk], frame)
    return message


def read_messages(reader, peer, up_to):
    """Mark read every message from `peer` to `reader` up to the id `up_to`; returns the newest
    id newly marked, or None. The sockets of both get a `read` frame, each naming the other
    party as `peer` (API.md, "Real time")."""
    with transaction.atomic():
        side = Participant.objects.select_for_update().filter(user=reader, peer=peer).first()
        if side is None:
            return None
        newest = (
            Message.objects.filter(
                conversation=side.conversation_id,
                sender=peer,
                id__gt=side.read_id,
                id__lte=up_to,
            )
            .aggregate(newest=Max("id"))
            .get("newest")
        )
        if newest is None:
            return None
        side.read_id = newest
        side.save(update_fields=["read_id"])
        realtime.push([peer.pk], {"type": "read", "data": {"peer": reader.email, "id": newest}})
        realtime.push([reader.pk], {"type": "read", "data": {"peer": peer.email, "id": newest}})
    return newest


def recall_message(message):
    """Recall `message` (found with queries.own_message) within 2 minutes of sending: its text
    leaves every answer, its place and id stay, and both users' sockets get a `recall` frame.
    Recalling it again changes nothing; after 2 minutes, 8008."""
    now = timezone.now()
    with transaction.atomic():
        locked = Message.objects.select_for_update(of=("self",)).filter(pk=message.pk).first()
        if locked is None:  # its conversation was deleted meanwhile (an account deletion)
            raise ApiError(errors.CANNOT_RECALL)
        if locked.recalled:
            return locked
        if now - locked.created_at > RECALL_WINDOW:
            raise ApiError(errors.CANNOT_RECALL)
        locked.recalled_at = now
        locked.text = ""
        locked.save(update_fields=["recalled_at", "text"])
        conversation = Conversation.objects.select_related("user_a", "user_b").get(
            pk=locked.conversation_id
        )
        one, other = conversation.user_a, conversation.user_b
        frame = {"type": "recall", "data": message_json(locked, one, other)}
        realtime.push([one.pk, other.pk], frame)
    return locked


def _context_line(message, sender_id):
    return {
        "id": message.pk,
        "from": "sender" if message.sender_id == sender_id else "reporter",
        "msg": "" if message.recalled else message.text,
        "created_at": message.created_at.isoformat(),
        "recalled": int(message.recalled),
    }


def report_message(reporter, message, reason):
    """Queue a report of `message` (found with queries.received_message), with a copy of its
    text and of the 20 messages before and after it, taken now; a reporter's open report of the
    same message is not repeated. `reason` is checked by the caller (feed's /report). Returns
    the report, or None when the message was deleted meanwhile."""
    before, after = queries.context_of(message, MessageReport.CONTEXT_SIZE)
    context = [_context_line(line, message.sender_id) for line in [*before, message, *after]]
    try:
        with transaction.atomic():
            queued, _ = MessageReport.objects.get_or_create(
                reporter=reporter,
                message=message,
                state=MessageReport.State.OPEN,
                defaults={
                    "sender": message.sender,
                    "reason": reason,
                    "reported_text": "" if message.recalled else message.text,
                    "context": context,
                },
            )
    except IntegrityError:
        return None
    return queued


# The moderators' actions (chat/admin.py).


def _refresh_last_messages(conversation_ids):
    """Point both sides of each conversation at its newest visible message (None: none left)."""
    for conversation_id in conversation_ids:
        newest = Message.objects.visible().filter(conversation=conversation_id)
        newest = newest.order_by("-id").values_list("pk", flat=True).first()
        Participant.objects.filter(conversation=conversation_id).update(last_message=newest)


def set_hidden(messages, *, hidden):
    """Hide (`hidden=True`) or show messages: out of (back in) every answer at once, /get_chats'
    last message included. Returns how many changed."""
    with transaction.atomic():
        changing = messages.exclude(is_hidden=hidden)
        conversation_ids = set(changing.values_list("conversation", flat=True))
        count = changing.update(is_hidden=hidden)
        _refresh_last_messages(conversation_ids)
    return count


def resolve_reports(reports, moderator):
    """Mark the open ones of `reports` resolved by `moderator`; returns how many."""
    with transaction.atomic():
        return reports.filter(state=MessageReport.State.OPEN).update(
            state=MessageReport.State.RESOLVED, resolved_by=moderator, resolved_at=timezone.now()
        )


def hide_reported_messages(reports, moderator):
    """Hide the messages that `reports` name and resolve every open report of them.
    Returns (messages hidden, reports resolved)."""
    with transaction.atomic():
        message_ids = list(reports.filter(message__isnull=False).values_list("message", flat=True))
        hidden = set_hidden(Message.objects.filter(pk__in=message_ids), hidden=True)
        resolved = resolve_reports(
            MessageReport.objects.filter(message__in=message_ids)
            | MessageReport.objects.filter(pk__in=reports.values("pk")),
            moderator,
        )
    return hidden, resolved


def show_reported_messages(reports):
    """Undo a hide: show again the messages that `reports` name. Returns how many."""
    message_ids = reports.filter(message__isnull=False).values_list("message", flat=True)
    return set_hidden(Message.objects.filter(pk__in=list(message_ids)), hidden=False)


def deactivate_reported_senders(reports, moderator):
    """Deactivate the senders of the messages that `reports` name (revoking their tokens) and
    resolve every open report of their messages. Returns (users deactivated, reports resolved,
    users skipped: the moderator themselves or other staff, whom only a superuser deactivates)."""
    with transaction.atomic():
        named_ids = set(reports.filter(sender__isnull=False).values_list("sender", flat=True))
        users = deactivatable_by(moderator, User.objects.filter(pk__in=named_ids))
        user_ids = set(users.values_list("pk", flat=True))
        deactivated = deactivate_users(User.objects.filter(pk__in=user_ids))
        resolved = resolve_reports(MessageReport.objects.filter(sender__in=user_ids), moderator)
    return deactivated, resolved, len(named_ids - user_ids)
