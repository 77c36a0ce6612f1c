"""`manage.py seed_demo`: counts, determinism, the demo login, and --flush sparing real users."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from accounts.models import User
from feed.management.commands.seed_demo import DEMO_EMAIL, DEMO_PASSWORD
from feed.models import Comment, Post
from friends.models import Friendship, Group

pytestmark = pytest.mark.django_db


def seed(**options):
    out = io.StringIO()
    defaults = {"users": 30, "friends": 3, "posts": 2, "comments": 1, "seed": 7}
    call_command("seed_demo", stdout=out, **{**defaults, **options})
    return out.getvalue()


def snapshot():
    return (
        list(User.objects.order_by("email").values_list("email", "name", "username", "like")),
        sorted(
            Friendship.objects.values_list("owner__email", "friend__email", "group", "created_at")
        ),
        sorted(Post.objects.values_list("author__email", "msg", "time")),
        sorted(Comment.objects.values_list("post__time", "author__email", "text")),
    )


def test_counts_and_the_demo_login(anon):
    output = seed()
    assert User.objects.count() == 30
    assert Friendship.objects.count() == 90
    assert Post.objects.count() == 60
    assert Comment.objects.count() == 60
    assert "Made 30 users, 90 friendships, 60 posts and 60 comments" in output
    assert f"{DEMO_EMAIL} / {DEMO_PASSWORD}" in output
    body = anon.post("/login", {"email": DEMO_EMAIL, "pass": DEMO_PASSWORD}).json()
    assert body["status"] == 1002
    assert body["data"]["img"].endswith(".webp")
    assert not Friendship.objects.filter(owner=F("friend")).exists()


def test_data_is_realistic():
    seed(users=60, friends=5)
    demo = User.objects.get(email=DEMO_EMAIL)
    assert demo.like and demo.flike and demo.location and demo.name
    assert set(Friendship.objects.values_list("group", flat=True)) == set(Group.values)
    one_password = set(User.objects.values_list("password", flat=True))
    assert len(one_password) == 1  # one hash computed once, shared


def test_same_seed_same_data():
    seed()
    first = snapshot()
    seed(flush=True)
    assert snapshot() == first
    seed(flush=True, seed=8)
    assert snapshot() != first


def test_flush_deletes_only_demo_data(make_user):
    real = make_user(email="real@example.com")
    Post.objects.create(author=real, msg="mine", time=1)
    seed()
    with pytest.raises(CommandError, match="--flush"):
        seed()
    seed(flush=True, users=10)
    assert User.objects.count() == 11
    assert Post.objects.filter(author=real).count() == 1


def test_if_empty(make_user):
    make_user()
    assert "no demo data" in seed(if_empty=True)
    assert User.objects.count() == 1


def test_rejects_nonsense():
    with pytest.raises(CommandError):
        seed(users=0)


def test_interest_tags_are_built_for_every_user():
    from friends.interests import split_interests
    from friends.models import UserInterest

    seed()
    for user in User.objects.all():
        stored = list(
            UserInterest.objects.filter(user=user)
            .order_by("position")
            .values_list("tag__name", flat=True)
        )
        assert stored == split_interests(user.like)
        assert stored
