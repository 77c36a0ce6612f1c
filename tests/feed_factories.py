"""Rows for the feed tests, made with the ORM (friendships and blocks included, so that these
tests do not depend on the friends endpoints)."""

from datetime import timedelta

from django.utils import timezone

from feed.models import Comment, Post
from friends.models import Block, Friendship, Group

POST_KEYS = {
    "_id",
    "id",
    "email",
    "name",
    "username",
    "msg",
    "time",
    "created_at",
    "comment_count",
    "comment_list",
}
COMMENT_KEYS = {"id", "email", "username", "comment", "created_at"}


def make_post(author, time=1_700_000_000, msg=None, **fields):
    return Post.objects.create(author=author, time=time, msg=msg or f"post at {time}", **fields)


def make_comments(post, author, count, **fields):
    """`count` comments on `post`, one second apart, oldest first; in one INSERT."""
    start = timezone.now() - timedelta(seconds=count)
    return Comment.objects.bulk_create(
        Comment(
            post=post,
            author=author,
            text=f"comment {number}",
            created_at=start + timedelta(seconds=number),
            **fields,
        )
        for number in range(count)
    )


def befriend(owner, friend, group=Group.NORMAL):
    return Friendship.objects.create(owner=owner, friend=friend, group=group)


def block(blocker, blocked):
    return Block.objects.create(blocker=blocker, blocked=blocked)
