"""JSON shapes of accounts objects (API.md, "Objects")."""


def profile_json(user, request):
    """The Profile object: exactly its keys; unset text is "", unset birthday/avatar null."""
    return {
        "email": user.email,
        "name": user.name,
        "username": user.username,
        "sex": user.sex,
        "birthday": user.birthday.isoformat() if user.birthday else None,
        "like": user.like,
        "flike": user.flike,
        "img": request.build_absolute_uri(user.avatar.url) if user.avatar else None,
        "location": user.location,
        "introduction": user.introduction,
    }


def card_json(user, request):
    """The Card object: the short form of a user (the same values as in their Profile)."""
    return {
        "email": user.email,
        "username": user.username,
        "name": user.name,
        "img": request.build_absolute_uri(user.avatar.url) if user.avatar else None,
    }


def profile_info_json(user, request, counts):
    """/get_info: the Profile, when the account was created, and the owner's counts."""
    return {**profile_json(user, request), "date_joined": user.date_joined.isoformat(), **counts}


def signed_in_json(user, token, request):
    """/register2, /login: the Profile and the freshly issued token (shown only this once)."""
    return {**profile_json(user, request), "token": token}
