"""The Feed endpoints of API.md. Each view checks in API.md's order: its missing-parameter code,
its not-found codes, ownership (9403), formats (9400), then calls one domain function."""

from accounts import extensions
from accounts.auth import owner_named_by, require_owner
from feed import errors, queries, services
from feed.forms import PublicPostsForm, TimelineForm, is_integer
from feed.serializers import comment_json, new_comment_row, new_post_row, post_json
from socialsite.api import api, envelope, read_page
from socialsite.errors import ApiError


def require_text(value, missing):
    """Text that is only whitespace counts as missing."""
    if value is None or not value.strip():
        raise ApiError(missing)
    return value


@api(("POST",), takes_images=True, lists=("images",))
def put_post(request, params):
    services.POST_LIMIT.check(request.api_user.pk)
    email, message, time = params.require("email", "message", "time", missing=errors.INVALID_POST)
    require_text(message, errors.INVALID_POST)
    if not is_integer(time):
        raise ApiError(errors.INVALID_POST)
    author = require_owner(request, email, unknown=errors.INVALID_POST)
    post = services.put_post(author, message=message, time=time, images=params.getlist("images"))
    return envelope(3001, "发布成功", data=post_json(new_post_row(post), request))


@api(("GET",), replica_reads=True)
def get_post(request, params):
    if "oldTime" not in params and "email" not in params:
        raise ApiError(errors.MISSING_POST_FILTER)
    old_time = params.clean(PublicPostsForm)["oldTime"]
    start, limit = read_page(params)
    page = queries.public_posts(
        request.api_user,
        old_time=old_time,
        author_email=params.get("email"),
        start=start,
        limit=limit,
    )
    return envelope(
        3002, "成功", data=[post_json(post, request) for post in page.items], has_more=page.has_more
    )


@api(("GET", "POST"))
def del_post(request, params):
    (email,) = params.require("email", missing=errors.MISSING_PARAMS)
    if "id" not in params and "time" not in params:
        raise ApiError(errors.MISSING_PARAMS)
    post = queries.post_by_author(
        request.api_user, email, post_id=params.get("id"), time=params.get("time")
    )
    require_owner(request, email, unknown=errors.NO_SUCH_POST_OF_USER)
    services.delete_post(post)
    return envelope(3005, "删除成功")


@api(("GET",), replica_reads=True)
def get_post_detail(request, params):
    (post_id,) = params.require("id", missing=errors.MISSING_PARAMS)
    post = queries.post_detail(request.api_user, post_id)
    return envelope(3002, "成功", data=post_json(post, request))


@api(("POST",))
def like(request, params):
    email, post_id = params.require("email", "id", missing=errors.MISSING_PARAMS)
    post = queries.post_visible_to(request.api_user, post_id)
    liker = require_owner(request, email)
    return envelope(3008, "点赞成功", data=services.like(post, liker))


@api(("POST",))
def unlike(request, params):
    email, post_id = params.require("email", "id", missing=errors.MISSING_PARAMS)
    post = queries.post_visible_to(request.api_user, post_id)
    liker = require_owner(request, email)
    return envelope(3009, "已取消点赞", data=services.unlike(post, liker))


@api(("POST",))
def del_comment(request, params):
    email, comment_id = params.require("email", "id", missing=errors.MISSING_PARAMS)
    comment = queries.comment_deletable_by(request.api_user, email, comment_id)
    require_owner(request, email, unknown=errors.NO_SUCH_POST_OF_USER)
    services.delete_comment(comment)
    return envelope(3010, "评论已删除")


@api(("POST",))
def comment(request, params):
    services.COMMENT_LIMIT.check(request.api_user.pk)
    text = require_text(params.get("comment"), errors.EMPTY_COMMENT)
    (email,) = params.require("email", missing=errors.MISSING_COMMENTER)
    (post_id,) = params.require("id", missing=errors.MISSING_POST_ID)
    post = queries.post_visible_to(request.api_user, post_id)
    author = require_owner(request, email, unknown=errors.MISSING_COMMENTER)
    new_comment = services.comment(post, author, text)
    return envelope(3007, "评论成功", data=comment_json(new_comment_row(new_comment), request))


@api(("GET",), replica_reads=True)
def get_comments(request, params):
    (post_id,) = params.require("id", missing=errors.NO_SUCH_POST)
    post = queries.post_visible_to(request.api_user, post_id)
    start, limit = read_page(params)
    page = queries.comment_page(request.api_user, post, start, limit)
    data = [comment_json(comment, request) for comment in page.items]
    return envelope(3002, "成功", data=data, has_more=page.has_more)


@api(("GET",), replica_reads=True)
def get_friend_post(request, params):
    viewer = owner_named_by(request, params, missing=errors.INVALID_POST)
    filters = params.clean(TimelineForm)
    start, limit = read_page(params)
    page = queries.friend_posts(viewer, **filters, start=start, limit=limit)
    last = page.items[-1] if page.has_more else None
    # the cursor of the next page: following it never skips nor repeats a post (API.md)
    following = last and {"before": last["time"], "before_id": last["id"]}
    data = [post_json(post, request) for post in page.items]
    return envelope(3002, "成功", data=data, has_more=page.has_more, next=following)


@api(("POST",))
def report(request, params):
    (email,) = params.require("email", missing=errors.MISSING_REPORT_PARAMS)
    reason = require_text(params.get("reason"), errors.MISSING_REPORT_PARAMS)
    # the targets of the apps above feed (chat's `message`), named through accounts.extensions
    others = {name: params.get(name) for name in extensions.report_targets if name in params}
    if "post" not in params and "femail" not in params and not others:
        raise ApiError(errors.MISSING_REPORT_PARAMS)
    post, user = queries.report_target(
        request.api_user, post_id=params.get("post"), email=params.get("femail")
    )
    elsewhere = queries.other_report_targets(request.api_user, others)
    reporter = require_owner(request, email, unknown=errors.MISSING_REPORT_PARAMS)
    services.report(reporter, post=post, user=user, elsewhere=elsewhere, reason=reason)
    return envelope(7001, "举报成功")
