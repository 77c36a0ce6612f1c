"""Plain helpers shared by the test modules: the clients, rows made with the ORM (friendships and
blocks included, so that the tests of one app need not go through another app's endpoints),
the sign-up steps, and the expected shapes of the API's answers. Fixtures live in
tests/conftest.py; no test module imports another."""

import re
import threading
from datetime import timedelta

from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import get_resolver
from django.utils import timezone

from accounts.captcha import _key as captcha_key
from accounts.models import AuthToken
from chat.models import Conversation, Message, Participant
from feed.models import Comment, Post
from friends.models import Block, Friendship, Group, UserInterest
from tests import images
from tests.images import b64

PASSWORD = "correct-horse-battery"

# The `type` of every frame the WebSocket consumer sent in this test run (conftest's recorder);
# tests/test_asyncapi.py checks each is described in docs/asyncapi.yaml.
SENT_FRAME_TYPES = set()
NEW_PASSWORD = "a-brand-new-passphrase"


class ApiClient(Client):
    """Django's test client that sends `Authorization: Bearer <token>` when it has a token."""

    def __init__(self, token=None, **kwargs):
        super().__init__(**kwargs)
        self.token = token
        if token:
            self.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    def post_json(self, path, data, **kwargs):
        return self.post(path, data, content_type="application/json", **kwargs)


def routed_api_paths():
    """Every path of the project's API: the apps' includes and /healthz (not the admin, media)."""
    paths = set()
    for pattern in get_resolver().url_patterns:
        route = str(pattern.pattern)
        if hasattr(pattern, "url_patterns"):
            if route == "":
                paths.update(str(nested.pattern) for nested in pattern.url_patterns)
        elif not route.startswith("^media"):
            paths.add(route)
    return paths


def body(response, http_status=200):
    """The JSON body of `response`, after checking its HTTP status and content type."""
    assert response.status_code == http_status
    assert response["Content-Type"] == "application/json"
    return response.json()


# The expected shapes of the API's answers: literals, so that a test fails when the API's keys
# change (not the app's own constants, which would change along with them).

PROFILE_KEYS = {
    "email",
    "name",
    "username",
    "sex",
    "birthday",
    "like",
    "flike",
    "img",
    "location",
    "introduction",
}
POST_KEYS = {
    "_id",
    "id",
    "email",
    "name",
    "username",
    "author",
    "msg",
    "time",
    "created_at",
    "like_count",
    "liked",
    "images",
    "comment_count",
    "comment_list",
}
COMMENT_KEYS = {"id", "post", "email", "username", "author", "comment", "created_at"}
CARD_KEYS = {"email", "username", "name", "img"}
FORBIDDEN = {"status": 9403, "msg": "无权操作其他用户"}


def expected_profile(email, **fields):
    """The public profile of the user with `email` and these `fields`, as the API shows it:
    empty texts, no birthday and no avatar for whatever `fields` leaves out."""
    profile = dict.fromkeys(PROFILE_KEYS, "")
    return {**profile, "email": email, "birthday": None, "img": None, **fields}


# Accounts


def sent_code(mailoutbox, email):
    """The six-digit code of the last email, which must have gone to `email`."""
    message = mailoutbox[-1]
    assert message.to == [email]
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def signup_rid(anon, mailoutbox, email="new@example.com"):
    """The rid of a sign-up through /register1 and /check_email, as a person would get it."""
    assert anon.post("/register1", {"email": email}).json()["status"] == 1004
    code = sent_code(mailoutbox, email)
    return anon.post("/check_email", {"email": email, "value": code}).json()["data"]["rid"]


def register(anon, mailoutbox, email="new@example.com", password="a-long-enough-pass", **fields):
    """The /register2 response of a whole sign-up of `email`, with these profile `fields`."""
    rid = signup_rid(anon, mailoutbox, email)
    return anon.post("/register2", {"email": email, "rid": rid, "pass": password, **fields})


def solve(uuid):
    """The answer the server keeps for `uuid`, read the way a person would: from the cache."""
    return cache.get(captcha_key(uuid))


def login(email, password):
    """The body of a /login from a client of its own."""
    return Client().post("/login", {"email": email, "pass": password}).json()


def with_avatar(user):
    """`user`, refreshed, with an avatar set through /reset."""
    ApiClient(AuthToken.objects.issue(user)).post(
        "/reset", {"email": user.email, "img": b64(images.png())}
    )
    user.refresh_from_db()
    return user


# Friends


def befriend(owner, friend, group=Group.NORMAL):
    return Friendship.objects.create(owner=owner, friend=friend, group=group)


def block(blocker, blocked):
    return Block.objects.create(blocker=blocker, blocked=blocked)


def friend_list(owner):
    """(friend's email, group) of each entry in `owner`'s list, first added first."""
    return list(
        Friendship.objects.filter(owner=owner)
        .order_by("created_at", "id")
        .values_list("friend__email", "group")
    )


def interest_tags(user):
    """The names of `user`'s interest tags, in the order of their `like`."""
    return list(
        UserInterest.objects.filter(user=user)
        .order_by("position")
        .values_list("tag__name", flat=True)
    )


# Feed


def make_post(author, time=1_700_000_000, msg=None, **fields):
    return Post.objects.create(author=author, time=time, msg=msg or f"post at {time}", **fields)


def make_comments(post, author, count, **fields):
    """`count` comments on `post`, one second apart, oldest first; in one INSERT."""
    start = timezone.now() - timedelta(seconds=count)
    return Comment.objects.bulk_create(
        Comment(
            post=post,
            author=author,
            text=f"comment {number}",
            created_at=start + timedelta(seconds=number),
            **fields,
        )
        for number in range(count)
    )


# Chat

MESSAGE_KEYS = {"id", "sender", "recipient", "msg", "created_at", "client_id", "recalled"}


def make_friends(one, other):
    """A mutual friendship: each lists the other."""
    befriend(one, other)
    befriend(other, one)


def make_messages(sender, recipient, count, start=None, **fields):
    """`count` messages from `sender` to `recipient`, one second apart, oldest first, in one
    INSERT; the conversation and its two sides are made when missing, and the sides' last
    message is set, as /send_msg keeps them."""
    user_a, user_b = sorted((sender.pk, recipient.pk))
    conversation, created = Conversation.objects.get_or_create(user_a_id=user_a, user_b_id=user_b)
    if created:
        Participant.objects.bulk_create(
            [
                Participant(conversation=conversation, user=sender, peer=recipient),
                Participant(conversation=conversation, user=recipient, peer=sender),
            ]
        )
    start = start or timezone.now() - timedelta(seconds=count)
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            sender=sender,
            text=f"message {number}",
            created_at=start + timedelta(seconds=number),
            **fields,
        )
        for number in range(count)
    )
    newest = Message.objects.filter(conversation=conversation).order_by("-id").first()
    Participant.objects.filter(conversation=conversation).update(last_message=newest)
    return list(Message.objects.filter(conversation=conversation).order_by("-id")[:count])[::-1]


def responses_in_threads(calls):
    """Run each of `calls` (a function of no arguments returning a response) in a thread of its
    own, all released at once; returns the responses' (HTTP status, body) pairs."""
    barrier = threading.Barrier(len(calls))
    answers = []

    def run(call):
        try:
            barrier.wait(timeout=10)
            response = call()
            answers.append((response.status_code, response.json()))
        except Exception as error:  # reported in the test's thread
            answers.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers
