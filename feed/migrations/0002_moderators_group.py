"""The `moderators` group: staff in it moderate users, posts, comments and reports in the admin
and may look at friendships and blocks. They may not delete users (deactivate them instead)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "moderators"
PERMISSIONS = [
    ("accounts", "view_user"),
    ("accounts", "change_user"),
    ("feed", "view_post"),
    ("feed", "change_post"),
    ("feed", "view_comment"),
    ("feed", "change_comment"),
    ("feed", "view_report"),
    ("feed", "change_report"),
    ("friends", "view_friendship"),
    ("friends", "view_block"),
]


def create_moderators(apps, schema_editor):
    # Permissions are normally created after `migrate` (post_migrate); on a fresh database they
    # do not exist yet at this point, so create those of the apps involved now.
    using = schema_editor.connection.alias
    for label in ("accounts", "friends", "feed"):
        app_config = apps.get_app_config(label)
        app_config.models_module = True  # the migration state's app configs have no module
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=GROUP_NAME)
    group.permissions.set(
        [
            Permission.objects.using(using).get(content_type__app_label=app, codename=codename)
            for app, codename in PERMISSIONS
        ]
    )


def remove_moderators(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("feed", "0001_initial"),
        ("accounts", "0001_initial"),
        ("friends", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_moderators, remove_moderators)]
