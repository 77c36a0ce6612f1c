"""/get_data: the user search (API.md, "GET /get_data")."""

from accounts.models import User
from friends import services


def search_queryset(viewer, *, femail="", username="", sex="", like="", flike=""):
    """The users `viewer` may find with these filters (AND; empty ones are ignored), oldest
    account first. Never `viewer`, deactivated users, or users blocked either way."""
    users = User.objects.visible_to(viewer).exclude(pk=viewer.pk)
    if femail:
        users = users.filter(email=femail)
    if username:
        users = users.filter(username__icontains=username)
    if sex:
        users = users.filter(sex=sex)
    if like:
        users = users.filter(like__icontains=like)
    if flike:
        users = users.filter(flike__icontains=flike)
    return users.order_by("date_joined", "id")


def search_users(viewer, filters, *, start, limit):
    """One page of the search; its `like`/`flike` are remembered for /recommend."""
    services.remember_search_interests(viewer, like=filters["like"], flike=filters["flike"])
    return list(search_queryset(viewer, **filters)[start : start + limit])
