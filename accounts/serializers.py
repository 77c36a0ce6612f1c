"""JSON shapes of accounts objects (API.md, "Objects")."""

from accounts.models import User

_AVATARS = User._meta.get_field("avatar").storage


def profile_json(user, request):
    """The Profile object: exactly its keys; unset text is "", unset birthday/avatar null."""
    return profile_of(profile_fields(user), request)


def profile_fields(user):
    """What a Profile shows of `user`, as the read modules' rows hold it (`profile_of`)."""
    return {
        "email": user.email,
        "name": user.name,
        "username": user.username,
        "sex": user.sex,
        "birthday": user.birthday,
        "like": user.like,
        "flike": user.flike,
        "avatar": user.avatar.name,
        "location": user.location,
        "introduction": user.introduction,
    }


def profile_of(row, request):
    """The Profile of the user whose `email`, `name`, `username`, `sex`, `birthday` (a date or
    None), `like`, `flike`, `avatar` (the stored file's name, empty for none), `location` and
    `introduction` a row of a read module holds (/get_data's page)."""
    birthday, avatar = row["birthday"], row["avatar"]
    return {
        "email": row["email"],
        "name": row["name"],
        "username": row["username"],
        "sex": row["sex"],
        "birthday": birthday.isoformat() if birthday else None,
        "like": row["like"],
        "flike": row["flike"],
        "img": request.build_absolute_uri(_AVATARS.url(avatar)) if avatar else None,
        "location": row["location"],
        "introduction": row["introduction"],
    }


def card_json(user, request):
    """The Card object: the short form of a user (the same values as in their Profile)."""
    return card_of(card_fields(user), request)


def card_fields(user):
    """What a Card shows of `user`, as the read modules' rows hold it (`card_of`)."""
    return {
        "email": user.email,
        "username": user.username,
        "name": user.name,
        "avatar": user.avatar.name,
    }


def card_of(row, request):
    """The Card of the user whose `email`, `username`, `name` and `avatar` (the stored file's
    name, empty for none) a row of a read module holds."""
    avatar = row["avatar"]
    return {
        "email": row["email"],
        "username": row["username"],
        "name": row["name"],
        "img": request.build_absolute_uri(_AVATARS.url(avatar)) if avatar else None,
    }


def profile_info_json(user, request, counts):
    """/get_info: the Profile, when the account was created, and the owner's counts."""
    return {**profile_json(user, request), "date_joined": user.date_joined.isoformat(), **counts}


def signed_in_json(user, token, request):
    """/register2, /login: the Profile and the freshly issued token (shown only this once)."""
    return {**profile_json(user, request), "token": token}
