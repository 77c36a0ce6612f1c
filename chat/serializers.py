"""JSON shapes of chat objects (API.md, "Objects" → Message, and /get_chats' items)."""

from accounts.serializers import profile_json


def message_json(message, one, other):
    """The Message object of `message`, sent between the users `one` and `other` (in either
    direction): a recalled message keeps its place and id, with msg ""."""
    sender, recipient = (one, other) if message.sender_id == one.pk else (other, one)
    return {
        "id": message.pk,
        "sender": sender.email,
        "recipient": recipient.email,
        "msg": "" if message.recalled else message.text,
        "created_at": message.created_at.isoformat(),
        "client_id": message.client_id,
        "recalled": int(message.recalled),
    }


def chat_json(participant, request):
    """One item of /get_chats: a Participant from queries.chat_page (peer and last message
    selected, `unread` annotated)."""
    return {
        "peer": profile_json(participant.peer, request),
        "last": message_json(participant.last_message, participant.user, participant.peer),
        "unread": participant.unread,
    }
