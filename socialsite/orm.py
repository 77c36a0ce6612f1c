"""Small ORM helpers the apps share."""

import weakref

from django.db import connections, router


def one_or_none(queryset):
    """The row of a query that matches one at most (a unique lookup), or None. QuerySet.first()
    would add ORDER BY pk, whose compilation is a fifth of the cost of such a query in the hot
    paths (token look-up, a friendship, a message by client_id)."""
    return next(iter(queryset[:1]), None)


def columns(model):
    """The quoted columns of `model`'s concrete fields, in their order, for a SELECT whose rows
    `instances` turns into models."""
    table = model._meta.db_table
    return ", ".join(f'"{table}"."{field.column}"' for field in model._meta.concrete_fields)


def instances(connection, row, *models):
    """The instances of `models` that one row of raw SQL on `connection` (a DatabaseWrapper, not
    the `django.db.connection` proxy) holds, model after model (`columns`): its values converted
    as the ORM converts them (SQLite's naive timestamps made aware, …), without the cost of
    compiling a query."""
    found, values = [], iter(row)
    for model in models:
        converted = []
        for field, converters in _converters(connection, model):
            value = next(values)
            for convert in converters:
                value = convert(value, field, connection)
            converted.append(value)
        found.append(model.from_db(connection.alias, None, converted))
    return found


def read_instances(connection, sql, params, *models):
    """The rows of the raw `sql` (with `params`) on `connection`, each a tuple of the instances
    of `models` it holds (`columns` of each, in order) and then its other values."""
    width = sum(len(model._meta.concrete_fields) for model in models)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [(*instances(connection, row, *models), *row[width:]) for row in rows]


# {connection: {model: [(column, its converters), …]}}, as the ORM's compiler finds them
_converters_of = weakref.WeakKeyDictionary()


def _converters(connection, model):
    by_model = _converters_of.setdefault(connection, {})
    if model not in by_model:
        found = []
        for field in model._meta.concrete_fields:
            column = field.get_col(model._meta.db_table)
            converters = (
                *connection.ops.get_db_converters(column),
                *field.get_db_converters(connection),
            )
            found.append((column, converters))
        by_model[model] = found
    return by_model[model]


def lock_rows(model, pks, *, no_key=False):
    """Lock the rows of `model` whose primary keys are `pks` until the transaction ends, in key
    order, so that two callers never deadlock: SELECT … FOR UPDATE (FOR NO KEY UPDATE with
    `no_key`: the foreign keys' own key-share locks then do not wait for it), written here rather
    than compiled by the ORM on every write. SQLite takes no row locks (its write transactions
    are serial, BEGIN IMMEDIATE): nothing is sent."""
    connection = connections[router.db_for_write(model)]
    if not pks or not connection.features.has_select_for_update:
        return
    quote = connection.ops.quote_name
    column = quote(model._meta.pk.column)
    placeholders = ", ".join(["%s"] * len(pks))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {quote(model._meta.db_table)} WHERE {column} IN ({placeholders})"
            f" ORDER BY {column} {connection.ops.for_update_sql(no_key=no_key)}",
            sorted(pks),
        )
