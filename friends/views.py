"""The endpoints of API.md, "Friends". Each checks in API.md's order: method → token →
missing parameters → unknown users (email, then femail) → ownership (9403) → format → action."""

from accounts.models import User, normalize_email
from accounts.serializers import profile_json
from friends import recommend as recommendations
from friends import search, services
from friends.forms import SearchForm
from friends.models import Friendship, Group
from friends.serializers import friend_lists_json
from socialsite.api import ApiError, api, envelope, read_page, require_owner

MUTATING_GET = ("GET", "POST")  # API.md: the mutating GET endpoints also accept POST


def find_by_email(users, email):
    """The user of `users` with `email` (any case), or None."""
    return users.filter(email=normalize_email(email)).first()


def owner_and_other(request, email, femail, *, unknown, other_unknown, others):
    """(caller, the user `femail` names among `others`). An unknown `email` is `unknown`, then an
    unknown `femail` is `other_unknown`, and only then is a foreign `email` a 9403."""
    try:
        caller, forbidden = require_owner(request, email, unknown=unknown), None
    except ApiError as error:
        if error.status != 9403:
            raise
        caller, forbidden = None, error
    other = find_by_email(others, femail)
    if other is None:
        raise other_unknown
    if forbidden:
        raise forbidden
    return caller, other


@api(MUTATING_GET)
def set_friend(request, params):
    email, femail, group = params.require(
        "email", "femail", "group", error=ApiError(5000, "缺乏参数")
    )
    if group not in Group.values:
        raise ApiError(5000, "组别不存在")
    caller, friend = owner_and_other(
        request,
        email,
        femail,
        unknown=ApiError(5001, "无此用户"),
        other_unknown=ApiError(5002, "添加的用户不存在"),
        others=User.objects.active(),
    )
    services.set_friend(caller, friend, group)
    return envelope(5003, "添加成功")


def caller_and_any_user(request, params, *, unknown):
    """(caller, user) named by `email` and `femail` — deactivated users included, so that a
    removal or block of them still works; 5000 when either is missing, `unknown` when either
    names nobody."""
    email, femail = params.require("email", "femail", error=ApiError(5000, "缺乏参数"))
    return owner_and_other(
        request, email, femail, unknown=unknown, other_unknown=unknown, others=User.objects.all()
    )


@api(MUTATING_GET)
def rm_friend(request, params):
    caller, friend = caller_and_any_user(request, params, unknown=ApiError(5001, "用户不存在"))
    services.remove_friend(caller, friend)
    return envelope(5004, "删除成功")


@api(("GET",))
def get_friends(request, params):
    missing = ApiError(6000, "缺少有效参数")
    (email,) = params.require("email", error=missing)
    caller = require_owner(request, email, unknown=missing)
    entries = Friendship.objects.listed_by(caller).with_active_friend().select_related("friend")
    return envelope(6001, "成功", data=friend_lists_json(entries, request))


@api(("GET",))
def is_friend(request, params):
    missing = ApiError(6000, "缺少有效参数")
    email, femail = params.require("email", "femail", error=missing)
    caller = require_owner(request, email, unknown=missing)
    friend = find_by_email(User.objects.active(), femail)
    entry = friend and Friendship.objects.entry(caller, friend)
    if entry is None:
        return envelope(6001, "成功", res=0)
    return envelope(6001, "成功", res=1, group=entry.group, mutual=int(entry.mutual))


@api(("POST",))
def block(request, params):
    caller, other = caller_and_any_user(request, params, unknown=ApiError(5002, "用户不存在"))
    services.block(caller, other)
    return envelope(5005, "已拉黑")


@api(("POST",))
def unblock(request, params):
    caller, other = caller_and_any_user(request, params, unknown=ApiError(5002, "用户不存在"))
    services.unblock(caller, other)
    return envelope(5006, "已取消拉黑")


@api(("GET",))
def get_data(request, params):
    missing = ApiError(1007, "缺乏必要参数")
    (email, _, _) = params.require("email", "start", "limit", error=missing)
    caller = require_owner(request, email, unknown=missing)
    start, limit = read_page(params)
    filters = params.clean(SearchForm)
    users = search.search_users(caller, filters, start=start, limit=limit)
    return envelope(1008, "得到了相应的数据", data=[profile_json(user, request) for user in users])


@api(("GET",))
def recommend(request, params):
    missing = ApiError(1007, "缺乏必要参数")
    (email,) = params.require("email", error=missing)
    caller = require_owner(request, email, unknown=missing)
    start, limit = read_page(params)
    ranked = recommendations.recommend(caller, start=start, limit=limit)
    data = [
        {**profile_json(user, request), "score": score, "reasons": reasons}
        for user, score, reasons in ranked
    ]
    return envelope(1008, "得到了相应的数据", data=data)
