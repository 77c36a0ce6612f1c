"""The trigram GIN index behind /get_data's `location` filter on PostgreSQL, as 0004 made those of
username / like / flike: on the expression `UPPER(location::text)` that `location__icontains`
compiles to. On SQLite this migration does nothing."""

from django.db import migrations

INDEX_NAME = "accounts_user_location_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    table = quote(apps.get_model("accounts", "User")._meta.db_table)
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {quote(INDEX_NAME)} ON {table} "
        f"USING gin ((UPPER({quote('location')}::text)) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(INDEX_NAME)}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("friends", "0005_follower_and_block_list_indexes"),
    ]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
