"""The `moderators` group (feed/migrations/0002) may look at notices in the admin, read-only like
everyone's there: notices are made by what users do, never edited by staff."""

from django.db import migrations

GROUP_NAME = "moderators"
PERMISSIONS = [("notices", "view_notice")]


def grant(apps, schema_editor):
    # As in feed/migrations/0002: on a fresh database the permissions do not exist yet here
    # (post_migrate makes them later), so those the group needs are made from the historical
    # models, as Django names them.
    using = schema_editor.connection.alias
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.using(using).get_or_create(name=GROUP_NAME)
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
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group = Group.objects.using(using).filter(name=GROUP_NAME).first()
    if group is not None:
        codenames = [codename for _, codename in PERMISSIONS]
        group.permissions.remove(
            *Permission.objects.using(using).filter(
                content_type__app_label="notices", codename__in=codenames
            )
        )


class Migration(migrations.Migration):

    dependencies = [
        ("notices", "0001_initial"),
        ("feed", "0002_moderators_group"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
