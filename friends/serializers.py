"""JSON shapes of the friends app (API.md, "GET /get_friends")."""

from accounts.serializers import profile_json
from friends.models import Group


def friend_lists_json(entries, request):
    """`data` of /get_friends from a list's entries (friend selected), in the list's order."""
    data = {"friends": [], **{f"group{group}": [] for group in Group.values}, "profiles": {}}
    for entry in entries:
        email = entry.friend.email
        data["friends"].append(email)
        data[f"group{entry.group}"].append(email)
        data["profiles"][email] = profile_json(entry.friend, request)
    return data
