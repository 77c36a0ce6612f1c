"""Reads of accounts that views need (API.md, "Accounts"); the writes are in services.py."""

from django.db import DEFAULT_DB_ALIAS, connections, router

from accounts import errors, extensions
from accounts.models import AuthToken, User, hash_secret, normalize_email
from socialsite.errors import ApiError
from socialsite.orm import columns, one_or_none, read_instances


def active_sql(user_column):
    """SQL for the read modules' raw queries: `user_column` names an active user (an EXISTS on
    the primary key: a join on the user's state would have SQLite build a Bloom filter of every
    active user)."""
    return f"""EXISTS (SELECT 1 FROM "accounts_user" AS "active"
                      WHERE "active"."id" = {user_column} AND "active"."is_active")"""


# In SQL rather than through the ORM: every authenticated request runs it, and compiling the
# ORM's version cost more than the query.
_TOKEN_AND_USER = f"""SELECT {columns(AuthToken)}, {columns(User)}
FROM "accounts_authtoken" INNER JOIN "accounts_user"
  ON "accounts_user"."id" = "accounts_authtoken"."user_id"
WHERE "accounts_authtoken"."key_hash" = %(key_hash)s"""


def token_named_by(key):
    """The AuthToken whose key is `key`, with its `user`, or None. Read on the primary, always:
    a revocation takes effect at once."""
    primary = connections[DEFAULT_DB_ALIAS]
    params = {"key_hash": hash_secret(key)}
    for token, user in read_instances(primary, _TOKEN_AND_USER, params, AuthToken, User):
        token.user = user
        return token
    return None


_ACTIVE_USER_WITH_EMAIL = f"""SELECT {columns(User)} FROM "accounts_user"
WHERE "accounts_user"."email" = %(email)s AND "accounts_user"."is_active"
"""


def active_user_with_email(email):
    """The active user whose email is `email` (User.objects.active().with_email), or None: one
    look-up of the email's unique index, in SQL (the chat's peer, on every /send_msg and
    /get_msgs)."""
    reads = connections[router.db_for_read(User)]
    params = {"email": normalize_email(email)}
    for (user,) in read_instances(reads, _ACTIVE_USER_WITH_EMAIL, params, User):
        return user
    return None


def visible_profile(viewer, email):
    """/get_info: the user named by `email` if `viewer` may see them, and the counts only the
    owner sees (empty for anyone else). 6000 for a missing, unknown or hidden user."""
    if email and normalize_email(email) == viewer.email:
        # the caller, active (their token was just checked) and blocking no one in themselves
        return viewer, extensions.counts_for_owner(viewer)
    user = email and one_or_none(User.objects.visible_to(viewer).with_email(email))
    if not user:
        raise ApiError(errors.NO_SUCH_PROFILE)
    return user, {}
