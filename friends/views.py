"""The endpoints of API.md, "Friends". Each checks in API.md's order: method → token →
missing parameters → unknown users (email, then femail) → ownership (9403) → format → action."""

from accounts.auth import owner_named_by, require_owner
from accounts.models import User
from accounts.serializers import profile_json, profile_of
from friends import errors, queries, services
from friends.forms import SearchForm
from friends.models import Group
from friends.serializers import blocked_json, follower_json, friend_lists_json
from socialsite import errors as transport
from socialsite.api import api, envelope, read_page
from socialsite.errors import ApiError

MUTATING_GET = ("GET", "POST")  # API.md: the mutating GET endpoints also accept POST


def owner_and_other(request, email, femail, *, unknown, other_unknown, others):
    """(caller, the user `femail` names among `others`). An unknown `email` is `unknown`, then an
    unknown `femail` is `other_unknown`, and only then is a foreign `email` a 9403."""
    try:
        caller, forbidden = require_owner(request, email, unknown=unknown), None
    except ApiError as error:
        if error.code != transport.NOT_THE_OWNER:
            raise
        caller, forbidden = None, error
    other = others.with_email(femail).first()
    if other is None:
        raise ApiError(other_unknown)
    if forbidden:
        raise forbidden
    return caller, other


def caller_and_any_user(request, params, *, unknown):
    """(caller, user) named by `email` and `femail` — deactivated users included, so that a
    removal or block of them still works; 5000 when either is missing, `unknown` when either
    names nobody."""
    email, femail = params.require("email", "femail", missing=errors.MISSING_PARAMS)
    return owner_and_other(
        request, email, femail, unknown=unknown, other_unknown=unknown, others=User.objects.all()
    )


@api(MUTATING_GET)
def set_friend(request, params):
    email, femail, group = params.require("email", "femail", "group", missing=errors.MISSING_PARAMS)
    if group not in Group.values:
        raise ApiError(errors.NO_SUCH_GROUP)
    caller, friend = owner_and_other(
        request,
        email,
        femail,
        unknown=errors.NO_SUCH_CALLER,
        other_unknown=errors.NO_SUCH_FRIEND,
        others=User.objects.active(),
    )
    services.set_friend(caller, friend, group)
    return envelope(5003, "添加成功")


@api(MUTATING_GET)
def rm_friend(request, params):
    caller, friend = caller_and_any_user(request, params, unknown=errors.UNKNOWN_USER)
    services.remove_friend(caller, friend)
    return envelope(5004, "删除成功")


@api(("GET",))
def get_friends(request, params):
    caller = owner_named_by(request, params, missing=errors.MISSING_OR_UNKNOWN)
    return envelope(6001, "成功", data=friend_lists_json(queries.friend_list(caller), request))


@api(("GET",))
def get_followers(request, params):
    caller = owner_named_by(request, params, missing=errors.MISSING_OR_UNKNOWN)
    start, limit = read_page(params)
    page = services.read_followers(caller, start=start, limit=limit)
    data = [follower_json(entry, request) for entry in page.items]
    return envelope(6001, "成功", data=data, has_more=page.has_more)


@api(("GET",))
def get_blocks(request, params):
    caller = owner_named_by(request, params, missing=errors.MISSING_OR_UNKNOWN)
    start, limit = read_page(params)
    page = queries.blocks_page(caller, start=start, limit=limit)
    data = [blocked_json(block, request) for block in page.items]
    return envelope(6001, "成功", data=data, has_more=page.has_more)


@api(("GET",))
def is_friend(request, params):
    email, femail = params.require("email", "femail", missing=errors.MISSING_OR_UNKNOWN)
    caller = require_owner(request, email, unknown=errors.MISSING_OR_UNKNOWN)
    entry = queries.list_entry(caller, femail)
    if entry is None:
        return envelope(6001, "成功", res=0)
    return envelope(6001, "成功", res=1, group=entry.group, mutual=int(entry.mutual))


@api(("POST",))
def block(request, params):
    caller, other = caller_and_any_user(request, params, unknown=errors.UNKNOWN_OTHER_USER)
    services.block(caller, other)
    return envelope(5005, "已拉黑")


@api(("POST",))
def unblock(request, params):
    caller, other = caller_and_any_user(request, params, unknown=errors.UNKNOWN_OTHER_USER)
    services.unblock(caller, other)
    return envelope(5006, "已取消拉黑")


@api(("GET",), replica_reads=True)
def get_data(request, params):
    (email, _, _) = params.require("email", "start", "limit", missing=errors.MISSING_SEARCH_PARAMS)
    caller = require_owner(request, email, unknown=errors.MISSING_SEARCH_PARAMS)
    start, limit = read_page(params)
    filters = params.clean(SearchForm)
    page = services.search_and_remember(caller, filters, start=start, limit=limit)
    data = [profile_of(row, request) for row in page.items]
    return envelope(1008, "得到了相应的数据", data=data, has_more=page.has_more)


@api(("GET",), replica_reads=True)
def recommend(request, params):
    caller = owner_named_by(request, params, missing=errors.MISSING_SEARCH_PARAMS)
    start, limit = read_page(params)
    page = queries.recommend(caller, start=start, limit=limit)
    data = [
        {**profile_json(user, request), "score": score, "reasons": reasons}
        for user, score, reasons in page.items
    ]
    return envelope(1008, "得到了相应的数据", data=data, has_more=page.has_more)
