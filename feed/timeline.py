"""The one place feed queries are built (ARCHITECTURE.md). Every list runs a fixed number of
queries whatever the number of friends, posts or comments: the page of posts with their authors
and comment counts, then the latest comments of all of them in one prefetch."""

from django.db.models import Count, Prefetch

from accounts.models import normalize_email
from feed.models import Comment, Post, unblocked_q, visible_q
from friends.models import Friendship

COMMENT_LIST_SIZE = 50


def post_page(posts, viewer, start, limit):
    """The page [start, start + limit) of `posts` (newest first), ready for `post_json`: author
    selected, `comment_count` annotated, `latest_comments` the newest ≤ 50 comments that
    `viewer` may see (newest first; the serializer turns them around)."""
    # The page is cut first, in a subquery, so that the count is grouped over the page's posts
    # only: the cost follows the page size, not the number of matching posts.
    page_ids = posts.newest_first().values("pk")[start : start + limit]
    latest_comments = (
        Comment.objects.visible_to(viewer)
        .select_related("author")
        .order_by("-created_at", "-id")[:COMMENT_LIST_SIZE]
    )
    return list(
        Post.objects.filter(pk__in=page_ids)
        .select_related("author")
        .annotate(
            comment_count=Count(
                "comments",
                filter=visible_q("comments__") & unblocked_q(viewer, "comments__"),
                distinct=True,
            )
        )
        .prefetch_related(Prefetch("comments", queryset=latest_comments, to_attr="latest_comments"))
        .newest_first()
    )


def public_posts(viewer, *, old_time=None, author_email=None, start=0, limit=20):
    """/getPost: posts whose `time` ≥ old_time and/or by the user with `author_email`."""
    posts = Post.objects.visible_to(viewer)
    if old_time is not None:
        posts = posts.filter(time__gte=old_time)
    if author_email is not None:
        posts = posts.filter(author__email=normalize_email(author_email))
    return post_page(posts, viewer, start, limit)


def friend_posts(viewer, *, group=None, before=None, start=0, limit=20):
    """/get_friend_post: posts by the users in `viewer`'s list (one group of it with `group`),
    older than `before` when given."""
    listed = Friendship.objects.filter(owner=viewer)
    if group is not None:
        listed = listed.filter(group=group)
    posts = Post.objects.visible_to(viewer).filter(author__in=listed.values("friend"))
    if before is not None:
        posts = posts.filter(time__lt=before)
    return post_page(posts, viewer, start, limit)


def comment_page(viewer, post, start=0, limit=20):
    """/get_comments: the comments of `post` that `viewer` may see, oldest first."""
    return list(
        Comment.objects.visible_to(viewer)
        .filter(post=post)
        .select_related("author")
        .order_by("created_at", "id")[start : start + limit]
    )
