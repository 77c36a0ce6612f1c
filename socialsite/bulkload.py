"""Bulk loading of many rows into tables the migrations made (seed_demo's millions of rows).

`insert` takes tuples already in database form: SQLite gets one `executemany` of a
parameterised INSERT, PostgreSQL a `COPY ... FROM STDIN` streamed row by row through psycopg 3.
`secondary_schema_deferred` drops the tables' secondary indexes for the load (on PostgreSQL their
unique and foreign-key constraints too) and re-creates each from the definition the database
itself gave, so the schema after the load is the migrated one, name for name. Run both inside
one transaction: a failed load rolls the schema back with the rows (DDL is transactional on both
databases)."""

from contextlib import contextmanager

from django.core.management.color import no_style
from django.db import connection


def quoted_columns(model, fields):
    quote = connection.ops.quote_name
    return ", ".join(quote(model._meta.get_field(name).column) for name in fields)


def insert(model, fields, rows):
    """INSERT `rows` (tuples in the order of `fields`, in database form) into `model`'s table."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = quoted_columns(model, fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)


def next_ids(models):
    """The first free primary key of each model's table: rows loaded with explicit keys need no
    reading back of the keys the database chose."""
    first = {}
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(
                f"SELECT COALESCE(MAX({connection.ops.quote_name(model._meta.pk.column)}), 0) "
                f"FROM {connection.ops.quote_name(model._meta.db_table)}"
            )
            first[model] = cursor.fetchone()[0] + 1
    return first


def reset_sequences(models):
    """After explicit keys PostgreSQL's identity sequences lag behind (SQLite's AUTOINCREMENT
    follows the largest key by itself)."""
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(statement)


def _sqlite_secondary_schema(cursor, tables):
    """The CREATE INDEX statements of `tables`, as SQLite stored them. The indexes of UNIQUE
    and PRIMARY KEY clauses (autoindexes, no SQL of their own) cannot be dropped and stay."""
    marks = ", ".join(["%s"] * len(tables))
    cursor.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({marks}) ORDER BY name",
        tables,
    )
    quote = connection.ops.quote_name
    return [(f"DROP INDEX {quote(name)}", sql) for name, sql in cursor.fetchall()]


def _postgresql_secondary_schema(cursor, tables):
    """The foreign-key and unique constraints of `tables` and their indexes that back no
    constraint (the primary keys and checks stay), as PostgreSQL describes them. Drops come
    foreign keys first; re-creation indexes and unique constraints first (a foreign key may
    need its target's unique index), then the foreign keys, validated in one pass each."""
    cursor.execute(
        "SELECT con.conrelid::regclass::text, con.conname, con.contype, "
        "pg_get_constraintdef(con.oid) FROM pg_constraint con "
        "WHERE con.conrelid::regclass::text = ANY(%s) AND con.contype IN ('f', 'u') "
        "ORDER BY con.contype = 'u', con.conname",
        [tables],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
        "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint con "
        "WHERE con.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))"
        "::regclass) ORDER BY i.indexname",
        [tables],
    )
    quote = connection.ops.quote_name
    indexes = [(f"DROP INDEX {quote(name)}", definition) for name, definition in cursor.fetchall()]
    dropped = [
        (
            f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}",
            f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}",
        )
        for table, name, _, definition in constraints
    ]
    foreign_keys = [pair for pair, row in zip(dropped, constraints, strict=True) if row[2] == "f"]
    uniques = [pair for pair, row in zip(dropped, constraints, strict=True) if row[2] == "u"]
    return foreign_keys, uniques + indexes


@contextmanager
def secondary_schema_deferred(models):
    """Within: the secondary indexes of `models`' tables (and on PostgreSQL their foreign-key
    and unique constraints) are dropped; on leaving they are made again, each in one pass over
    the loaded rows, which is cheaper than keeping them up to date row by row."""
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # PostgreSQL alters no table with foreign-key checks still deferred in this
            # transaction (rows deleted or inserted before, as by --flush within a test's
            # transaction): run them now; they are deferred again after, as Django's are.
            connection.check_constraints()
            foreign_keys, rest = _postgresql_secondary_schema(cursor, tables)
            drops = [drop for drop, _ in foreign_keys + rest]
            creates = [create for _, create in rest + foreign_keys]
        else:
            pairs = _sqlite_secondary_schema(cursor, tables)
            drops = [drop for drop, _ in pairs]
            creates = [create for _, create in pairs]
        for statement in drops:
            cursor.execute(statement)
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # More memory to sort in while the indexes are built, for this transaction only.
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for statement in creates:
            cursor.execute(statement)


@contextmanager
def sqlite_load_settings():
    """SQLite's settings for the length of a bulk load, restored after. A larger page cache,
    128 MiB, bounded (with the default 2 MiB the indexes' pages were read back from the file
    system over and over), and no fsync at the load's commit (synchronous OFF: a crash during
    the seed loses the seed, which is rerun). SQLite refuses to change `synchronous` inside a
    transaction: within a caller's (a test's) it stays as it is, their commit is the one that
    counts."""
    if connection.vendor != "sqlite":
        yield
        return
    settings = {"cache_size": -131072}
    if not connection.in_atomic_block:
        settings["synchronous"] = 0
    with connection.cursor() as cursor:
        usual = {}
        for name, value in settings.items():
            cursor.execute(f"PRAGMA {name}")
            (usual[name],) = cursor.fetchone()
            cursor.execute(f"PRAGMA {name} = {int(value)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name, value in usual.items():
                cursor.execute(f"PRAGMA {name} = {int(value)}")
