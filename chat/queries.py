"""Every read of the chat endpoints (docs/ARCHITECTURE.md): the look-ups that decide a code
(8002, 8004, 8008) and the two lists, each a fixed number of queries whatever the number of
conversations and messages: /get_chats one range of chat_participant_user_last, /get_msgs one
range of chat_message_conversation_id."""

from django.db import connection, connections, router
from django.db.models import Q

from accounts.models import User
from accounts.queries import active_sql, active_user_with_email
from chat import errors
from chat.forms import parse_id
from chat.models import Message, Participant
from friends.models import Friendship
from friends.queries import block_between_sql, blocked_either_way, unblocked_sql
from socialsite.api import Page, page_from
from socialsite.errors import ApiError
from socialsite.orm import columns, one_or_none, read_instances

# What message_json reads: loading only these keeps a page cheap.
MESSAGE_FIELDS = ("id", "sender_id", "text", "created_at", "client_id", "recalled_at")


def peer_named_by(email):
    """The active user with `email`: the other party of a conversation; 8002 otherwise."""
    peer = active_user_with_email(email)
    if peer is None:
        raise ApiError(errors.NO_SUCH_PEER)
    return peer


def blocked_between(one, other):
    """Whether either of the two users blocked the other."""
    return blocked_either_way(one.pk, other.pk)


def refuse_when_blocked(one, other):
    """8004 when either of the two users blocked the other."""
    if blocked_between(one, other):
        raise ApiError(errors.BLOCKED)


# One query on the send path for both of /send_msg's checks, which the ORM would build as two.
_BLOCKED_AND_LISTINGS = (
    f"SELECT {block_between_sql('%(one)s', '%(other)s')},"
    f" (SELECT COUNT(*) FROM {Friendship._meta.db_table}"
    " WHERE (owner_id = %(one)s AND friend_id = %(other)s)"
    " OR (owner_id = %(other)s AND friend_id = %(one)s))"
)


def refuse_unless_mutual(sender, recipient):
    """8004 when either of the two users blocked the other, else 8003 unless they are two users
    who list each other (API.md: only mutual friends can message)."""
    with connection.cursor() as cursor:
        cursor.execute(_BLOCKED_AND_LISTINGS, {"one": sender.pk, "other": recipient.pk})
        blocked, listings = cursor.fetchone()
    if blocked:
        raise ApiError(errors.BLOCKED)
    if sender.pk == recipient.pk or listings != 2:
        raise ApiError(errors.NOT_MUTUAL)


def stored_message(sender, client_id):
    """The message `sender` stored with `client_id`, or None (with its conversation's two user
    ids: the rows themselves are read only for a retry's answer)."""
    if not client_id or len(client_id) > Message._meta.get_field("client_id").max_length:
        return None
    fields = (*MESSAGE_FIELDS, "is_hidden", "conversation__user_a", "conversation__user_b")
    return one_or_none(
        Message.objects.filter(sender=sender, client_id=client_id)
        .select_related("conversation")
        .only(*fields)
    )


def stored_by_client_id(sender, client_id):
    """(message, recipient) of the message `sender` stored with `client_id`, or None: the answer
    to a retried send."""
    message = stored_message(sender, client_id)
    if message is None:
        return None
    pair = (message.conversation.user_a_id, message.conversation.user_b_id)
    peer = one_or_none(User.objects.filter(pk=pair[1] if pair[0] == sender.pk else pair[0]))
    # None when the peer's account was deleted in between (their messages went with it)
    return None if peer is None else (message, peer)


# /get_msgs in SQL rather than through the ORM (compiling the ORM's queries cost more than
# running them): the block, the peer's side (its conversation and read mark; none before the
# first message) and a range of chat_message_conversation_id.
_PEERS_SIDE = """SELECT "conversation_id", "read_id" FROM "chat_participant"
WHERE "user_id" = %(peer)s AND "peer_id" = %(viewer)s"""
_MESSAGES = f"""SELECT {columns(Message)} FROM "chat_message"
WHERE "conversation_id" = %(conversation)s AND NOT "is_hidden" {{after_or_before}}
ORDER BY "id" {{direction}} LIMIT %(rows)s"""


def message_page(viewer, peer, *, before_id=None, after_id=None, limit=20):
    """/get_msgs: (page, peer_read_id). The page holds the visible messages of the conversation
    of `viewer` and `peer`, oldest first: the newest `limit` (below `before_id` when given), or,
    with `after_id`, the oldest `limit` above it; `has_more` says whether more remain in the
    direction read. `peer_read_id`: the newest of `viewer`'s messages `peer` has read, or None.
    8004 when they block each other. Three queries: the block, the peer's side, the page."""
    refuse_when_blocked(viewer, peer)
    params = {"viewer": viewer.pk, "peer": peer.pk, "rows": limit + 1}
    reads = connections[router.db_for_read(Message)]
    with reads.cursor() as cursor:
        cursor.execute(_PEERS_SIDE, params)
        peers_side = cursor.fetchone()
    if peers_side is None:
        return Page([], 0), None
    params["conversation"], read_id = peers_side
    if after_id is not None:
        params["after"] = after_id
        sql = _MESSAGES.format(after_or_before='AND "id" > %(after)s', direction="ASC")
    elif before_id is not None:
        params["before"] = before_id
        sql = _MESSAGES.format(after_or_before='AND "id" < %(before)s', direction="DESC")
    else:
        sql = _MESSAGES.format(after_or_before="", direction="DESC")
    found = [message for (message,) in read_instances(reads, sql, params, Message)]
    items = found[:limit] if after_id is not None else found[:limit][::-1]
    return Page(items, int(len(found) > limit)), read_id or None


# /get_chats and /get_badges' `messages` in SQL rather than through the ORM (compiling the ORM's
# queries cost more than running them), tested by the same tests. `viewer`'s sides of the
# conversations /get_chats lists: those with a visible message, but for a deactivated peer or one
# blocked either way.
_LISTED_SIDES = f"""FROM "chat_participant" {{joins}}
WHERE "chat_participant"."user_id" = %(viewer)s
  AND "chat_participant"."last_message_id" IS NOT NULL
  AND {active_sql('"chat_participant"."peer_id"')}
  AND {unblocked_sql('"chat_participant"."peer_id"', "%(viewer)s")}"""
# a side's visible messages from the peer above its `read_id` (a range of
# chat_message_sender_unread)
_UNREAD = """(SELECT COUNT(*) FROM "chat_message" AS "unread_message"
  WHERE "unread_message"."conversation_id" = "chat_participant"."conversation_id"
    AND "unread_message"."sender_id" = "chat_participant"."peer_id"
    AND "unread_message"."id" > "chat_participant"."read_id"
    AND NOT "unread_message"."is_hidden")"""
_PEER_AND_LAST_MESSAGE = """
INNER JOIN "accounts_user" ON "accounts_user"."id" = "chat_participant"."peer_id"
INNER JOIN "chat_message" ON "chat_message"."id" = "chat_participant"."last_message_id"
"""
_CHAT_PAGE = f"""SELECT {columns(Participant)}, {columns(User)}, {columns(Message)},
       {_UNREAD} AS "unread"
{_LISTED_SIDES.format(joins=_PEER_AND_LAST_MESSAGE)}
ORDER BY "chat_participant"."last_message_id" DESC LIMIT %(rows)s OFFSET %(start)s"""
_UNREAD_MESSAGE_TOTAL = f"""SELECT COALESCE(SUM("unread"), 0)
FROM (SELECT {_UNREAD} AS "unread" {_LISTED_SIDES.format(joins="")}) AS "sides"
"""


def chat_page(viewer, start=0, limit=20):
    """/get_chats: a page (with `has_more`) of `viewer`'s conversations that have a visible
    message, by their last message, newest first, each a Participant with `peer` and
    `last_message` selected and `unread`: the visible messages from the peer it has not read.
    Conversations with a deactivated peer, or one blocked either way, are left out. One query."""
    params = {"viewer": viewer.pk, "rows": limit + 1, "start": start}
    reads = connections[router.db_for_read(Participant)]
    sides = []
    for side, peer, last_message, unread in read_instances(
        reads, _CHAT_PAGE, params, Participant, User, Message
    ):
        side.user, side.peer, side.last_message, side.unread = viewer, peer, last_message, unread
        sides.append(side)
    return page_from(sides, limit)


def unread_message_total(viewer):
    """/get_badges' `messages`: the `unread` counts of every conversation /get_chats lists,
    summed. One query (a range of chat_participant_user_last, each count a range of
    chat_message_sender_unread)."""
    with connections[router.db_for_read(Participant)].cursor() as cursor:
        cursor.execute(_UNREAD_MESSAGE_TOTAL, {"viewer": viewer.pk})
        (total,) = cursor.fetchone()
    return int(total)  # PostgreSQL sums bigints as a numeric


def own_message(sender, raw_id):
    """/recall_msg: the visible message of `sender` with id `raw_id` (services.recall_message
    locks it); 8008 when there is none (a hidden one has left every answer)."""
    message_id = parse_id(raw_id)
    message = None
    if message_id is not None:
        message = Message.objects.visible().filter(pk=message_id, sender=sender).first()
    if message is None:
        raise ApiError(errors.CANNOT_RECALL)
    return message


def received_message(recipient, raw_id):
    """/report's `message`: the visible message with id `raw_id` that `recipient` received (a
    block between the two does not matter: victims block first), or None."""
    message_id = parse_id(raw_id)
    if message_id is None:
        return None
    in_conversation_of_recipient = Q(conversation__user_a=recipient) | Q(
        conversation__user_b=recipient
    )
    return (
        Message.objects.visible()
        .filter(in_conversation_of_recipient, pk=message_id)
        .exclude(sender=recipient)
        .select_related("sender")
        .first()
    )


def context_of(message, size):
    """The `size` visible messages before and the `size` after `message` in its conversation,
    oldest first (two ranges of chat_message_conversation_id)."""
    around = Message.objects.visible().filter(conversation=message.conversation_id)
    around = around.only(*MESSAGE_FIELDS)
    before = list(around.filter(id__lt=message.pk).order_by("-id")[:size])[::-1]
    after = list(around.filter(id__gt=message.pk).order_by("id")[:size])
    return before, after
