"""JSON shapes of feed objects (API.md, "Objects"). `request` makes the avatar URLs of the
authors' Cards absolute."""

from accounts.serializers import card_json


def comment_json(comment, request):
    return {
        "id": comment.pk,
        "post": comment.post_id,
        "email": comment.author.email,
        "username": comment.author.username,
        "author": card_json(comment.author, request),
        "comment": comment.text,
        "created_at": comment.created_at.isoformat(),
    }


def post_json(post, request):
    """A post from `queries.post_page`, `queries.post_detail` or `services.put_post` (with
    `like_count`, `liked`, `comment_count`, `latest_comments`, newest first, and `image_list`);
    `request` makes the image and avatar URLs absolute."""
    return {
        "_id": str(post.pk),
        "id": post.pk,
        "email": post.author.email,
        "name": post.author.username,
        "username": post.author.username,
        "author": card_json(post.author, request),
        "msg": post.msg,
        "time": post.time,
        "created_at": post.created_at.isoformat(),
        "like_count": post.like_count,
        "liked": int(post.liked),
        "images": [request.build_absolute_uri(image.file.url) for image in post.image_list],
        "comment_count": post.comment_count,
        # fetched newest first, so that the slice keeps the latest; shown oldest first
        "comment_list": [
            comment_json(comment, request) for comment in reversed(post.latest_comments)
        ],
    }
