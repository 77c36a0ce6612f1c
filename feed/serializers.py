"""JSON shapes of feed objects (API.md, "Objects")."""


def comment_json(comment):
    return {
        "id": comment.pk,
        "email": comment.author.email,
        "username": comment.author.username,
        "comment": comment.text,
        "created_at": comment.created_at.isoformat(),
    }


def post_json(post):
    """A post from `queries.post_page` or `services.put_post` (with `comment_count` and
    `latest_comments`, newest first)."""
    return {
        "_id": str(post.pk),
        "id": post.pk,
        "email": post.author.email,
        "name": post.author.username,
        "username": post.author.username,
        "msg": post.msg,
        "time": post.time,
        "created_at": post.created_at.isoformat(),
        "comment_count": post.comment_count,
        # fetched newest first, so that the slice keeps the latest; shown oldest first
        "comment_list": [comment_json(comment) for comment in reversed(post.latest_comments)],
    }
