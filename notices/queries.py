"""Every read of the notices' endpoints (docs/ARCHITECTURE.md), each a fixed number of queries
whatever the counts: /get_notices one range of notice_recipient_newest (with `unread=1`, of
notice_recipient_unread), /get_badges one count each of notices, messages and followers."""

from chat.queries import unread_message_total
from friends.queries import new_follower_count
from notices.models import Notice
from socialsite.api import page_of


def notice_page(recipient, *, unread=False, start=0, limit=20):
    """/get_notices: a page (with `has_more`) of the notices `recipient` may see, newest first
    (only the unread ones with `unread`), each with its actor selected. One query."""
    notices = Notice.objects.visible_to(recipient)
    if unread:
        notices = notices.unread()
    return page_of(notices.select_related("actor").order_by("-id"), start, limit)


def unread_notice_count(recipient):
    """The unread notices of /get_notices?unread=1, all pages of it (a range of
    notice_recipient_unread)."""
    return Notice.objects.visible_to(recipient).unread().count()


def badges(user):
    """/get_badges: what the app shows on its tabs, each counted as its list shows it: the unread
    notices (/get_notices), the unread messages (/get_chats' `unread`, summed) and the users who
    added `user` since they last read the first page of /get_followers. Three queries."""
    return {
        "notices": unread_notice_count(user),
        "messages": unread_message_total(user),
        "followers": new_follower_count(user),
    }
