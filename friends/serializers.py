"""JSON shapes of the friends app (API.md, "GET /get_friends", "GET /get_followers",
"GET /get_blocks")."""

from accounts.serializers import card_json, profile_json
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


def follower_json(entry, request):
    """An item of /get_followers from a friendship listing the caller (owner selected, `mutual`
    annotated): the follower's Profile, `mutual` and `since` (when they added the caller)."""
    return {
        **profile_json(entry.owner, request),
        "mutual": int(entry.mutual),
        "since": entry.created_at.isoformat(),
    }


def blocked_json(block, request):
    """An item of /get_blocks: the blocked user's Card and `since` (when the block was made)."""
    return {**card_json(block.blocked, request), "since": block.created_at.isoformat()}
