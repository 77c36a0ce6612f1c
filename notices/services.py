"""Writes of the notices (API.md, "Notices"): a notice for each new friendship, comment and like,
made by the receivers of the lower apps' post_save signals (connected in apps.py: friends and
feed never import this app), pushed to the recipient's sockets after commit; and marking
notices read. Deleting what caused a notice deletes it (its foreign key's CASCADE)."""

from friends.queries import blocked_either_way
from notices.models import TEXT_LENGTH, Notice
from notices.serializers import SiteAddress, notice_json
from socialsite import realtime

# The pushed frame's avatar URLs, built without a request (notices.serializers.SiteAddress).
SITE_ADDRESS = SiteAddress()


def notify(recipient_id, actor, notice_type, **targets):
    """Store a notice of `notice_type` to the user `recipient_id` about what `actor` did
    (`targets`: the friendship, or the post and the comment or like), and push it to the
    recipient's sockets once the transaction commits. None, and nothing stored, when it would be
    a notice of one's own action or either user blocks the other (API.md). Runs in the
    transaction of the write that caused it: a rolled-back write leaves no notice."""
    if recipient_id == actor.pk or blocked_either_way(recipient_id, actor.pk):
        return None
    notice = Notice.objects.create(
        recipient_id=recipient_id, actor=actor, type=notice_type, **targets
    )
    realtime.push([recipient_id], {"type": "notice", "data": notice_json(notice, SITE_ADDRESS)})
    return notice


# The receivers (post_save of friends.Friendship, feed.Comment and feed.Like). Only a new row
# makes a notice: a group move saves the friendship again, and fixtures load raw.


def friendship_saved(sender, instance, created, raw=False, **kwargs):
    """A follow: `owner` added `friend` to their list (the first add; a group move makes none)."""
    if created and not raw:
        notify(instance.friend_id, instance.owner, Notice.Type.FOLLOW, friendship=instance)


def comment_saved(sender, instance, created, raw=False, **kwargs):
    """A comment on the recipient's post, with its first 50 characters."""
    if created and not raw:
        post = instance.post
        notify(
            post.author_id,
            instance.author,
            Notice.Type.COMMENT,
            post=post,
            comment=instance,
            text=instance.text[:TEXT_LENGTH],
        )


def like_saved(sender, instance, created, raw=False, **kwargs):
    """A like of the recipient's post (one per user and post, so one notice per actor and post)."""
    if created and not raw:
        post = instance.post
        notify(post.author_id, instance.user, Notice.Type.LIKE, post=post, like=instance)


def read_notices(recipient, up_to=None):
    """Mark read `recipient`'s notices up to and including the id `up_to` (None: all of them).
    One UPDATE; returns how many were unread."""
    unread = Notice.objects.filter(recipient=recipient, read=False)
    if up_to is not None:
        unread = unread.filter(id__lte=up_to)
    return unread.update(read=True)
