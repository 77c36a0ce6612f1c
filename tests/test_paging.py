"""API.md, Conventions, "Paging": every list that takes `start` and `limit` answers `has_more`
(1 when items follow the page, else 0) beside `data`, read with the page in the same query."""

import pytest

from socialsite import openapi
from tests.factories import befriend, block, body, make_comments, make_messages, make_post

pytestmark = pytest.mark.django_db


def parameter_name(parameter, document):
    """A parameter's name, through its `$ref` into the components when it has one."""
    if "$ref" in parameter:
        parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
    return parameter["name"]


def paged_operations():
    """(method, path) of every operation of docs/openapi.yaml that takes `start`."""
    document = openapi.document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            names = {parameter_name(p, document) for p in operation.get("parameters", [])}
            if "start" in names:
                yield method, path


# Each list's parameters (but the paging ones) and how many items it holds in `world`.
LISTS = {
    "/getPost": ({"oldTime": 0}, 2),
    "/get_comments": ({"id": "{post}"}, 3),
    "/get_friend_post": ({"email": "alice@example.com"}, 2),
    "/get_data": ({"email": "alice@example.com"}, 4),
    "/recommend": ({"email": "alice@example.com"}, 2),
    "/get_followers": ({"email": "alice@example.com"}, 2),
    "/get_blocks": ({"email": "alice@example.com"}, 2),
    "/get_chats": ({"email": "alice@example.com"}, 2),
    "/get_notices": ({"email": "alice@example.com"}, 2),
}


def test_every_paged_list_is_tried():
    assert sorted(paged_operations()) == sorted(("get", path) for path in LISTS)


@pytest.fixture
def world(user, bob, carol, make_user):
    """alice lists bob and carol, who post (bob's post has 3 comments) and list her too; dan and
    erin she does not list; fay and gus she blocked. bob and carol have each sent her a message
    (and each added her: two follow notices)."""
    make_user(email="dan@example.com")
    make_user(email="erin@example.com")
    for friend in (bob, carol):
        befriend(user, friend)
        befriend(friend, user)
    for blocked in ("fay@example.com", "gus@example.com"):
        block(user, make_user(email=blocked))
    post = make_post(bob, time=2)
    make_post(carol, time=1)
    make_comments(post, carol, 3)
    for friend in (bob, carol):
        make_messages(friend, user, 1)
    return post


@pytest.mark.parametrize("path", sorted(LISTS))
def test_has_more_says_whether_items_follow_the_page(api, world, path):
    params, total = LISTS[path]
    params = {name: str(value).format(post=world.pk) for name, value in params.items()}

    def page(start, limit):
        answer = body(api.get(path, {**params, "start": start, "limit": limit}))
        return len(answer["data"]), answer["has_more"]

    assert page(0, total - 1) == (total - 1, 1)
    assert page(0, total) == (total, 0)  # exactly full: nothing follows
    assert page(0, 100) == (total, 0)
    assert page(total - 1, 1) == (1, 0)
    assert page(total - 2, 1) == (1, 1)
    assert page(total, 20) == (0, 0)
