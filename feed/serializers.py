"""JSON shapes of feed objects (API.md, "Objects")."""


def comment_json(comment):
    return {
        "id": comment.pk,
        "email": comment.author.email,
        "username": comment.author.username,
        "comment": comment.text,
        "created_at": comment.created_at.isoformat(),
    }


def post_json(post, request):
    """A post from `queries.post_page` or `services.put_post` (with `comment_count`,
    `latest_comments`, newest first, and `image_list`); `request` makes the image URLs
    absolute."""
    return {
        "_id": str(post.pk),
        "id": post.pk,
        "email": post.author.email,
        "name": post.author.username,
        "username": post.author.username,
        "msg": post.msg,
        "time": post.time,
        "created_at": post.created_at.isoformat(),
        "images": [request.build_absolute_uri(image.file.url) for image in post.image_list],
        "comment_count": post.comment_count,
        # fetched newest first, so that the slice keeps the latest; shown oldest first
        "comment_list": [comment_json(comment) for comment in reversed(post.latest_comments)],
    }
