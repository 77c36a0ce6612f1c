"""Tags for the users who wrote a `like` before interest tags existed."""

from django.db import migrations

from friends.interests import split_interests


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
