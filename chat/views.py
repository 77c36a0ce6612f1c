"""The Chat endpoints of API.md. Each view checks in API.md's order: its missing-parameter code,
its not-found codes, ownership (9403), formats (9400), then calls one query or service."""

from accounts.auth import owner_named_by, require_owner
from chat import errors, queries, services
from chat.forms import MessagesForm, ReadForm
from chat.serializers import chat_json, message_json
from socialsite.api import api, envelope, read_page
from socialsite.errors import ApiError


def sent(message, one, other):
    return envelope(8001, "发送成功", data=message_json(message, one, other))


def require_text(value):
    """Text that is only whitespace counts as missing."""
    if value is None or not value.strip():
        raise ApiError(errors.MISSING_PARAMS)
    return value


def peer_and_caller(request, params):
    """(caller, peer) named by `email` and `femail`: 8000 when one is missing, 8002 when `femail`
    names no active user, 9403 when `email` is not the caller."""
    email, femail = params.require("email", "femail", missing=errors.MISSING_PARAMS)
    peer = queries.peer_named_by(femail)
    return require_owner(request, email), peer


@api(("POST",))
def send_msg(request, params):
    caller = request.api_user
    # A retry must never fail: a repeated client_id answers before any other check.
    stored = queries.stored_by_client_id(caller, params.get("client_id"))
    if stored:
        message, peer = stored
        return sent(services.resend_stored(caller, message, peer), caller, peer)
    services.SEND_LIMIT.check(caller.pk)
    email, femail = params.require("email", "femail", missing=errors.MISSING_PARAMS)
    text = require_text(params.get("msg"))
    peer = queries.peer_named_by(femail)
    sender = require_owner(request, email)
    message = services.send_message(sender, peer, text=text, client_id=params.get("client_id"))
    return sent(message, sender, peer)


@api(("GET",), replica_reads=True)
def get_msgs(request, params):
    caller, peer = peer_and_caller(request, params)
    page_params = params.clean(MessagesForm)
    page, peer_read_id = queries.message_page(caller, peer, **page_params)
    data = [message_json(message, caller, peer) for message in page.items]
    return envelope(8005, "成功", data=data, has_more=page.has_more, peer_read_id=peer_read_id)


@api(("GET",), replica_reads=True)
def get_chats(request, params):
    caller = owner_named_by(request, params, missing=errors.MISSING_PARAMS)
    start, limit = read_page(params)
    page = queries.chat_page(caller, start, limit)
    data = [chat_json(side, request) for side in page.items]
    return envelope(8005, "成功", data=data, has_more=page.has_more)


@api(("POST",))
def read_msgs(request, params):
    params.require("id", missing=errors.MISSING_PARAMS)
    caller, peer = peer_and_caller(request, params)
    up_to = params.clean(ReadForm)["id"]
    queries.refuse_when_blocked(caller, peer)
    services.read_messages(caller, peer, up_to)
    return envelope(8006, "已读")


@api(("POST",))
def recall_msg(request, params):
    email, raw_id = params.require("email", "id", missing=errors.MISSING_PARAMS)
    message = queries.own_message(request.api_user, raw_id)
    require_owner(request, email)
    services.recall_message(message)
    return envelope(8007, "已撤回")
