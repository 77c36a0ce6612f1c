"""Interest tags: a user's free-text `like` as normalized tags, so that shared interests are a
join in the database (friends.queries, /recommend) rather than string matching in Python."""

import re

from django.db import transaction

from friends.models import InterestTag, UserInterest

MAX_TAGS = 20
SEPARATORS = re.compile(r"[,，、;；/\s]+")


def split_interests(like):
    """`like` split on `,，、;；/` and whitespace into trimmed, lower-cased, de-duplicated tags
    (first occurrence kept, in the order written): at most 20, each at most 20 characters.
    A longer piece is dropped rather than cut, since a cut word names some other interest."""
    tags = []
    for piece in SEPARATORS.split(like or ""):
        tag = piece.strip().lower()
        if tag and len(tag) <= InterestTag.MAX_LENGTH and tag not in tags:
            tags.append(tag)
            if len(tags) == MAX_TAGS:
                break
    return tags


def sync_interests(user):
    """Make `user`'s stored tags those of `user.like`. Costs one query when nothing changed."""
    wanted = split_interests(user.like)
    stored = list(
        UserInterest.objects.filter(user=user)
        .order_by("position")
        .values_list("tag__name", flat=True)
    )
    if stored == wanted:
        return
    with transaction.atomic():
        UserInterest.objects.filter(user=user).delete()
        if not wanted:
            return
        # ignore_conflicts: another save may create the same tags or links at the same moment.
        InterestTag.objects.bulk_create(
            [InterestTag(name=name) for name in wanted], ignore_conflicts=True
        )
        tag_ids = dict(InterestTag.objects.filter(name__in=wanted).values_list("name", "id"))
        UserInterest.objects.bulk_create(
            [
                UserInterest(user=user, tag_id=tag_ids[name], position=position)
                for position, name in enumerate(wanted)
            ],
            ignore_conflicts=True,
        )


def sync_on_save(sender, instance, update_fields=None, raw=False, **kwargs):
    """post_save of the User model: every save that may have changed `like` (a sign-up, /reset,
    the admin) resyncs the tags; saves of other fields only (e.g. last_login) cost nothing."""
    if raw or (update_fields is not None and "like" not in update_fields):
        return
    sync_interests(instance)
