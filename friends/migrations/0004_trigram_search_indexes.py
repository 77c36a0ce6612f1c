"""Trigram GIN indexes behind /get_data's substring filters on PostgreSQL.

Django compiles `field__icontains` to `UPPER(field::text) LIKE UPPER(%s)` on PostgreSQL, so the
indexes are on that very expression. pg_trgm ships with PostgreSQL (contrib). On SQLite this
migration does nothing: there the filters scan, which the README's Performance section reports."""

from django.db import migrations

SEARCHED_COLUMNS = ("username", "like", "flike")


def _index_name(column):
    return f"accounts_user_{column}_trgm"


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    table = quote(apps.get_model("accounts", "User")._meta.db_table)
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in SEARCHED_COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(_index_name(column))} ON {table} "
            f"USING gin ((UPPER({quote(column)}::text)) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in SEARCHED_COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(_index_name(column))}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("friends", "0003_backfill_interest_tags"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
