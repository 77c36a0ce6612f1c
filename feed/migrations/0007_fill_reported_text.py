"""The copy of the reported text (Report.reported_text) for the reports filed before reports kept
one: taken now from the reported post or user, as feed.models.reported_text takes it at filing.
The function is copied here, so that later changes to it never change what this migration does."""

from django.db import migrations

# (field, label): the self-written profile texts, as feed.models.REPORTED_PROFILE_FIELDS names
# them and the user model labels them.
PROFILE_FIELDS = (
    ("username", "用户名"),
    ("name", "姓名"),
    ("introduction", "自我简介"),
    ("like", "爱好"),
    ("flike", "交友方向"),
    ("location", "所在地"),
)
BATCH = 500


def copy_of(report):
    if report.post_id is not None:
        return report.post.msg
    user = report.user
    return "\n".join(
        f"{label}：{getattr(user, name)}" for name, label in PROFILE_FIELDS if getattr(user, name)
    )


def fill_reported_text(apps, schema_editor):
    Report = apps.get_model("feed", "Report")
    reports = (
        Report.objects.using(schema_editor.connection.alias)
        .filter(reported_text="")
        .select_related("post", "user")
        .order_by("pk")
    )
    batch = []
    for report in reports.iterator(chunk_size=BATCH):
        report.reported_text = copy_of(report)
        batch.append(report)
        if len(batch) == BATCH:
            Report.objects.using(schema_editor.connection.alias).bulk_update(
                batch, ["reported_text"]
            )
            batch = []
    Report.objects.using(schema_editor.connection.alias).bulk_update(batch, ["reported_text"])


class Migration(migrations.Migration):

    dependencies = [
        ("feed", "0006_reports_outlive_accounts"),
    ]

    # Backwards the copies simply stay (the column goes with 0006 reversed).
    operations = [migrations.RunPython(fill_reported_text, migrations.RunPython.noop)]
