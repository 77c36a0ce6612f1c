"""Every read of the notices' endpoints (docs/ARCHITECTURE.md), each a fixed number of queries
whatever the counts: /get_notices one range of notice_recipient_newest (with `unread=1`, of
notice_recipient_unread), /get_badges one count each of notices, messages and followers."""

from django.db import connections, router

from accounts.queries import active_sql
from chat.queries import unread_message_total
from friends.queries import new_follower_count, unblocked_sql
from notices.models import Notice
from socialsite.api import page_of


def notice_page(recipient, *, unread=False, start=0, limit=20):
    """/get_notices: a page (with `has_more`) of the notices `recipient` may see, newest first
    (only the unread ones with `unread`), each with its actor selected. One query."""
    notices = Notice.objects.visible_to(recipient)
    if unread:
        notices = notices.unread()
    return page_of(notices.select_related("actor").order_by("-id"), start, limit)


# In SQL rather than through the ORM (/get_badges runs it on every refresh of the app's tabs):
# Notice.objects.visible_to's rules written once more, and tested by the same tests.
_UNREAD_NOTICE_COUNT = f"""SELECT COUNT(*) FROM "notices_notice"
LEFT OUTER JOIN "feed_post" ON "feed_post"."id" = "notices_notice"."post_id"
LEFT OUTER JOIN "feed_comment" ON "feed_comment"."id" = "notices_notice"."comment_id"
WHERE "notices_notice"."recipient_id" = %(recipient)s AND NOT "notices_notice"."read"
  AND {active_sql('"notices_notice"."actor_id"')}
  AND {unblocked_sql('"notices_notice"."actor_id"', "%(recipient)s")}
  AND ("notices_notice"."post_id" IS NULL OR NOT "feed_post"."is_hidden")
  AND ("notices_notice"."comment_id" IS NULL OR NOT "feed_comment"."is_hidden")"""


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
