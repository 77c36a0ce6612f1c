"""Reads of accounts that views need (API.md, "Accounts"); the writes are in services.py."""

from accounts import errors, extensions
from accounts.models import User
from socialsite.errors import ApiError


def visible_profile(viewer, email):
    """/get_info: the user named by `email` if `viewer` may see them, and the counts only the
    owner sees (empty for anyone else). 6000 for a missing, unknown or hidden user."""
    user = email and User.objects.visible_to(viewer).with_email(email).first()
    if not user:
        raise ApiError(errors.NO_SUCH_PROFILE)
    counts = extensions.counts_for_owner(user) if user.pk == viewer.pk else {}
    return user, counts
