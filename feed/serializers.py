"""JSON shapes of feed objects (API.md, "Objects"), from the rows of feed.queries (or of a post or
comment just written: `new_post_row`, `new_comment_row`). `request` makes the image and avatar
URLs absolute."""

from accounts.serializers import card_fields, card_of
from feed.models import PostImage

_IMAGES = PostImage._meta.get_field("file").storage


def comment_json(comment, request):
    return {
        "id": comment["id"],
        "post": comment["post_id"],
        "email": comment["email"],
        "username": comment["username"],
        "author": card_of(comment, request),
        "comment": comment["text"],
        "created_at": comment["created_at"].isoformat(),
    }


def post_json(post, request):
    """A post's row from `queries.post_page` or `queries.post_detail` (with `like_count`,
    `liked`, `comment_count`, `latest_comments`, newest first, and `images`), or `new_post_row`."""
    return {
        "_id": str(post["id"]),
        "id": post["id"],
        "email": post["email"],
        "name": post["username"],
        "username": post["username"],
        "author": card_of(post, request),
        "msg": post["msg"],
        "time": post["time"],
        "created_at": post["created_at"].isoformat(),
        "like_count": post["like_count"],
        "liked": int(post["liked"]),
        "images": [request.build_absolute_uri(_IMAGES.url(name)) for name in post["images"]],
        "comment_count": post["comment_count"],
        # fetched newest first, so that the slice keeps the latest; shown oldest first
        "comment_list": [
            comment_json(comment, request) for comment in reversed(post["latest_comments"])
        ],
    }


def new_post_row(post):
    """A post `services.put_post` just published, as a row for `post_json`: no likes or comments
    yet."""
    return {
        "id": post.pk,
        "msg": post.msg,
        "time": post.time,
        "created_at": post.created_at,
        **card_fields(post.author),
        "like_count": 0,
        "liked": False,
        "comment_count": 0,
        "latest_comments": [],
        "images": [image.file.name for image in post.image_list],
    }


def new_comment_row(comment):
    """A comment `services.comment` just stored, as a row for `comment_json`."""
    return {
        "id": comment.pk,
        "post_id": comment.post_id,
        "text": comment.text,
        "created_at": comment.created_at,
        **card_fields(comment.author),
    }
