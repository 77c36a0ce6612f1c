"""The Feed endpoints of API.md. Each view checks in API.md's order: its missing-parameter code,
its not-found codes, ownership (9403), formats (9400), then calls one domain function."""

from feed import services, timeline
from feed.forms import PublicPostsForm, TimelineForm
from feed.models import is_integer
from feed.serializers import comment_json, post_json
from socialsite.api import ApiError, api, envelope, read_page, require_owner


def require_text(value, error):
    """Text that is only whitespace counts as missing."""
    if value is None or not value.strip():
        raise error
    return value


@api(("POST",))
def put_post(request, params):
    invalid_post = ApiError(3000, "缺少有效参数")
    email, message, time = params.require("email", "message", "time", error=invalid_post)
    require_text(message, invalid_post)
    if not is_integer(time):
        raise invalid_post
    author = require_owner(request, email, unknown=invalid_post)
    post = services.put_post(author, message=message, time=time)
    return envelope(3001, "发布成功", data=post_json(post))


@api(("GET",), replica_reads=True)
def get_post(request, params):
    if "oldTime" not in params and "email" not in params:
        raise ApiError(3003, "缺少参数")
    old_time = params.clean(PublicPostsForm)["oldTime"]
    start, limit = read_page(params)
    posts = timeline.public_posts(
        request.api_user,
        old_time=old_time,
        author_email=params.get("email"),
        start=start,
        limit=limit,
    )
    return envelope(3002, "成功", data=[post_json(post) for post in posts])


@api(("GET", "POST"))
def del_post(request, params):
    missing = ApiError(3006, "缺少参数")
    (email,) = params.require("email", error=missing)
    if "id" not in params and "time" not in params:
        raise missing
    post = services.find_post_of(email, post_id=params.get("id"), time=params.get("time"))
    require_owner(request, email, unknown=ApiError(*services.NO_SUCH_POST_OF_USER))
    services.delete_post(post)
    return envelope(3005, "删除成功")


@api(("POST",))
def comment(request, params):
    text = require_text(params.get("comment"), ApiError(3006, "评论为空"))
    (email,) = params.require("email", error=ApiError(3006, "缺乏用户信息"))
    (post_id,) = params.require("id", error=ApiError(3006, "缺乏id"))
    post = services.find_post_for(request.api_user, post_id)
    author = require_owner(request, email, unknown=ApiError(3006, "缺乏用户信息"))
    new_comment = services.comment(post, author, text)
    return envelope(3007, "评论成功", data=comment_json(new_comment))


@api(("GET",), replica_reads=True)
def get_comments(request, params):
    (post_id,) = params.require("id", error=ApiError(*services.NO_SUCH_POST))
    post = services.find_post_for(request.api_user, post_id)
    start, limit = read_page(params)
    comments = timeline.comment_page(request.api_user, post, start, limit)
    return envelope(3002, "成功", data=[comment_json(comment) for comment in comments])


@api(("GET",), replica_reads=True)
def get_friend_post(request, params):
    invalid_request = ApiError(3000, "缺少有效参数")
    (email,) = params.require("email", error=invalid_request)
    viewer = require_owner(request, email, unknown=invalid_request)
    filters = params.clean(TimelineForm)
    start, limit = read_page(params)
    posts = timeline.friend_posts(
        viewer, group=filters["group"], before=filters["before"], start=start, limit=limit
    )
    return envelope(3002, "成功", data=[post_json(post) for post in posts])


@api(("POST",))
def report(request, params):
    missing = ApiError(7000, "缺少参数")
    (email,) = params.require("email", error=missing)
    reason = require_text(params.get("reason"), missing)
    if "post" not in params and "femail" not in params:
        raise missing
    post, user = services.find_report_target(
        request.api_user, post_id=params.get("post"), email=params.get("femail")
    )
    reporter = require_owner(request, email, unknown=missing)
    services.report(reporter, post=post, user=user, reason=reason)
    return envelope(7001, "举报成功")
