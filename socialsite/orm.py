"""Small ORM helpers the apps share."""


def one_or_none(queryset):
    """The row of a query that matches one at most (a unique lookup), or None. QuerySet.first()
    would add ORDER BY pk, whose compilation is a fifth of the cost of such a query in the hot
    paths (token look-up, a friendship, a message by client_id)."""
    return next(iter(queryset[:1]), None)
