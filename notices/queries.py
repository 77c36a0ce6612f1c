"""Every read of the notices' endpoints (docs/ARCHITECTURE.md), each a fixed number of queries
whatever the counts: /get_notices one range of notice_recipient_newest (with `unread=1`, of
notice_recipient_unread), /get_badges one count each of notices, messages and followers."""

from django.db import connections, router

from accounts.models import User
from accounts.queries import active_sql
from chat.queries import unread_message_total
from friends.queries import new_follower_count, unblocked_sql
from notices.models import Notice
from socialsite.api import page_from
from socialsite.orm import columns, read_instances


def notice_page(recipient, *, unread=False, start=0, limit=20):
    """/get_notices: a page (with `has_more`) of the notices `recipient` may see, newest first
    (only the unread ones with `unread`), each with its actor selected. One query."""
    unread_only = 'AND NOT "notices_notice"."read"' if unread else ""
    params = {"recipient": recipient.pk, "rows": limit + 1, "start": start}
    reads = connections[router.db_for_read(Notice)]
    sql = _NOTICE_PAGE.format(unread_only=unread_only)
    notices = []
    for notice, actor in read_instances(reads, sql, params, Notice, User):
        notice.actor = actor
        notices.append(notice)
    return page_from(notices, limit)


# In SQL rather than through the ORM (/get_notices, and /get_badges on every refresh of the app's
# tabs): compiling the ORM's queries cost more than running them. Notice.objects.visible_to's
# rules for `recipient`, written once more, tested by the same tests. {actor}: a join of the
# actor's row, for the page.
_VISIBLE = f"""FROM "notices_notice" {{actor}}
LEFT OUTER JOIN "feed_post" ON "feed_post"."id" = "notices_notice"."post_id"
LEFT OUTER JOIN "feed_comment" ON "feed_comment"."id" = "notices_notice"."comment_id"
WHERE "notices_notice"."recipient_id" = %(recipient)s
  AND {active_sql('"notices_notice"."actor_id"')}
  AND {unblocked_sql('"notices_notice"."actor_id"', "%(recipient)s")}
  AND ("notices_notice"."post_id" IS NULL OR NOT "feed_post"."is_hidden")
  AND ("notices_notice"."comment_id" IS NULL OR NOT "feed_comment"."is_hidden")"""
_UNREAD_NOTICE_COUNT = f"""SELECT COUNT(*) {_VISIBLE.format(actor="")}
  AND NOT "notices_notice"."read"
"""
# a range of notice_recipient_newest (of notice_recipient_unread with `unread_only`)
_ACTOR = 'INNER JOIN "accounts_user" ON "accounts_user"."id" = "notices_notice"."actor_id"'
_NOTICE_PAGE = f"""SELECT {columns(Notice)}, {columns(User)} {_VISIBLE.format(actor=_ACTOR)}
  {{unread_only}}
ORDER BY "notices_notice"."id" DESC LIMIT %(rows)s OFFSET %(start)s"""


def unread_notice_count(recipient):
    """The unread notices of /get_notices?unread=1, all pages of it (a range of
    notice_recipient_unread)."""
    with connections[router.db_for_read(Notice)].cursor() as cursor:
        cursor.execute(_UNREAD_NOTICE_COUNT, {"recipient": recipient.pk})
        return cursor.fetchone()[0]


def badges(user):
    """/get_badges: what the app shows on its tabs, each counted as its list shows it: the unread
    notices (/get_notices), the unread messages (/get_chats' `unread`, summed) and the users who
    added `user` since they last read the first page of /get_followers. Three queries."""
    return {
        "notices": unread_notice_count(user),
        "messages": unread_message_total(user),
        "followers": new_follower_count(user),
    }
