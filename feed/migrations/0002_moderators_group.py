"""The `moderators` group: staff in it moderate users, posts, comments and reports in the admin
and may look at friendships and blocks. They may not delete users (deactivate them instead)."""

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
    # do not exist yet at this point, so those the group needs are created here, from the
    # historical models, as Django names them (post_migrate then finds them and adds none).
    using = schema_editor.connection.alias
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    permissions = []
    for app_label, codename in PERMISSIONS:
        action, model_name = codename.split("_", 1)
        model = apps.get_model(app_label, model_name)
        content_type, _ = ContentType.objects.using(using).get_or_create(
            app_label=app_label, model=model_name
        )
        permission, _ = Permission.objects.using(using).get_or_create(
            content_type=content_type,
            codename=codename,
            defaults={"name": f"Can {action} {model._meta.verbose_name_raw}"},
        )
        permissions.append(permission)
    group, _ = Group.objects.using(using).get_or_create(name=GROUP_NAME)
    group.permissions.set(permissions)


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
