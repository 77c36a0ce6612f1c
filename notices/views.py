"""The Notices endpoints of API.md. Each view checks in API.md's order: its missing-parameter
code (7000, also for an unknown `email`), ownership (9403), formats (9400), then calls one query
or service."""

from accounts.auth import owner_named_by
from notices import errors, queries, services
from notices.forms import NoticesForm, ReadNoticesForm
from notices.serializers import notice_json
from socialsite.api import api, envelope, read_page


@api(("GET",))
def get_notices(request, params):
    caller = owner_named_by(request, params, missing=errors.MISSING_PARAMS)
    start, limit = read_page(params)
    unread = params.clean(NoticesForm)["unread"]
    page = queries.notice_page(caller, unread=bool(unread), start=start, limit=limit)
    data = [notice_json(notice, request) for notice in page.items]
    return envelope(7002, "成功", data=data, has_more=page.has_more)


@api(("POST",))
def read_notices(request, params):
    caller = owner_named_by(request, params, missing=errors.MISSING_PARAMS)
    up_to = params.clean(ReadNoticesForm)["id"]
    services.read_notices(caller, up_to)
    return envelope(7003, "已读")


@api(("GET",))
def get_badges(request, params):
    caller = owner_named_by(request, params, missing=errors.MISSING_PARAMS)
    return envelope(7002, "成功", data=queries.badges(caller))
