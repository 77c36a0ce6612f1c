"""Tags for the users who wrote a `like` before interest tags existed."""

import re

from django.db import migrations

# A copy of friends.interests.split_interests as it was when this migration was written: a
# migration must keep doing what it did, whatever later becomes of the app's code.
MAX_TAGS = 20
MAX_TAG_LENGTH = 20
SEPARATORS = re.compile(r"[,，、;；/\s]+")


def split_interests(like):
    tags = []
    for piece in SEPARATORS.split(like or ""):
        tag = piece.strip().lower()
        if tag and len(tag) <= MAX_TAG_LENGTH and tag not in tags:
            tags.append(tag)
            if len(tags) == MAX_TAGS:
                break
    return tags


def backfill(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    InterestTag = apps.get_model("friends", "InterestTag")
    UserInterest = apps.get_model("friends", "UserInterest")
    for user in User.objects.exclude(like="").only("id", "like").iterator():
        names = split_interests(user.like)
        InterestTag.objects.bulk_create([InterestTag(name=name) for name in names], ignore_conflicts=True)
        tag_ids = dict(InterestTag.objects.filter(name__in=names).values_list("name", "id"))
        UserInterest.objects.bulk_create(
            [
                UserInterest(user_id=user.id, tag_id=tag_ids[name], position=position)
                for position, name in enumerate(names)
            ],
            ignore_conflicts=True,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("friends", "0002_interests_and_search_interests"),
        ("accounts", "0001_initial"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
