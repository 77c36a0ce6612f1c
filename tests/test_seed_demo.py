"""`manage.py seed_demo`: counts, determinism, the demo login, and --flush sparing real users."""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F
from django.utils import timezone
from PIL import Image

from accounts.forms import PROFILE_FIELDS
from accounts.models import User
from chat.models import Message
from feed.demo import DEMO_CITIES, DEMO_EMAIL, DEMO_PASSWORD
from feed.management.commands.seed_demo import (
    DRAWN_AVATARS,
    FRIEND_DIRECTIONS,
    INTERESTS,
    MAX_IMAGES_PER_POST,
    POSTS_WITH_IMAGES,
)
from feed.models import Comment, Like, Post, PostImage
from friends.models import Friendship, Group
from tests.factories import ApiClient

pytestmark = pytest.mark.django_db


def seed(stdout=None, **options):
    out = stdout or io.StringIO()
    defaults = {"users": 30, "friends": 3, "posts": 2, "comments": 1, "seed": 7}
    call_command("seed_demo", stdout=out, **{**defaults, **options})
    return out.getvalue()


class Terminal(io.StringIO):
    def isatty(self):
        return True


def snapshot():
    return (
        list(User.objects.order_by("email").values_list("email", *PROFILE_FIELDS, "date_joined")),
        list(User.objects.exclude(avatar="").order_by("email").values_list("email", flat=True)),
        sorted(
            Friendship.objects.values_list("owner__email", "friend__email", "group", "created_at")
        ),
        sorted(Post.objects.values_list("author__email", "msg", "time")),
        sorted(Comment.objects.values_list("post__time", "author__email", "text")),
        sorted(Message.objects.values_list("sender__email", "text")),
    )


def test_counts_and_the_demo_login(anon):
    output = seed()
    assert User.objects.count() == 30
    # 3 listed by each user, and the entries by which the demo user's 3 chat peers list them
    # back where they did not already
    added = Friendship.objects.count() - 90
    assert 0 <= added <= 3
    assert Post.objects.count() == 60
    assert Comment.objects.count() == 60
    assert Message.objects.count() == 3 * 12
    # a like on every other post, by someone other than its author
    likes = Like.objects.count()
    assert 0 < likes <= 30
    assert not Like.objects.filter(user=F("post__author")).exists()
    made = (
        f"Made 30 users, {90 + added} friendships, 60 posts, 60 comments, {likes} likes and "
        "36 messages"
    )
    assert made in output
    assert f"{DEMO_EMAIL} / {DEMO_PASSWORD}" in output
    body = anon.post("/login", {"email": DEMO_EMAIL, "pass": DEMO_PASSWORD}).json()
    assert body["status"] == 1002
    assert body["data"]["img"].endswith(".webp")
    assert not Friendship.objects.filter(owner=F("friend")).exists()


def test_the_demo_user_has_conversations_with_mutual_friends(client):
    seed(users=60, friends=8)
    signed_in = client.post("/login", {"email": DEMO_EMAIL, "pass": DEMO_PASSWORD}).json()
    api = ApiClient(signed_in["data"]["token"])
    chats = api.get("/get_chats", {"email": DEMO_EMAIL}).json()
    assert chats["status"] == 8005
    assert [chat["unread"] for chat in chats["data"]] == [3] * 5
    demo = User.objects.get(email=DEMO_EMAIL)
    for chat in chats["data"]:
        peer = User.objects.get(email=chat["peer"]["email"])
        assert Friendship.objects.entry(demo, peer).mutual
        page = api.get("/get_msgs", {"email": DEMO_EMAIL, "femail": peer.email}).json()
        assert len(page["data"]) == 12
        assert page["data"][-1] == chat["last"]
        senders = {message["sender"] for message in page["data"]}
        assert senders == {DEMO_EMAIL, peer.email}
        # the demo user can answer
        answer = api.post("/send_msg", {"email": DEMO_EMAIL, "femail": peer.email, "msg": "hi"})
        assert answer.json()["status"] == 8001


def test_the_defaults_are_what_make_run_seeds_into_an_empty_database():
    output = io.StringIO()
    call_command("seed_demo", if_empty=True, stdout=output)
    # 10 friends each, and the demo user's 5 chat peers list the demo user back where they did
    # not already (which ones did depends on the seeded draw)
    friendships = Friendship.objects.count()
    assert 2000 <= friendships <= 2005
    likes = Like.objects.count()
    made = (
        f"Made 200 users, {friendships} friendships, 1000 posts, 2000 comments, {likes} likes "
        "and 60 messages"
    )
    assert made in output.getvalue()
    assert re.search(r"messages in \d+\.\d s\.", output.getvalue())


def test_data_is_realistic():
    seed(users=60, friends=5)
    demo = User.objects.get(email=DEMO_EMAIL)
    assert demo.like and demo.flike and demo.location and demo.name and demo.birthday
    assert 55 <= len(set(INTERESTS)) == len(INTERESTS) <= 65
    chinese = re.compile(r"[\u4e00-\u9fff]")
    for user in User.objects.all():
        assert chinese.search(user.name), user.name
        assert set(user.like.split("，")) <= set(INTERESTS)
        assert user.flike in FRIEND_DIRECTIONS
    assert set(Friendship.objects.values_list("group", flat=True)) == set(Group.values)
    assert set(User.objects.values_list("location", flat=True)) <= set(DEMO_CITIES)
    now_ms = timezone.now().timestamp() * 1000
    oldest_ms = (timezone.now() - timedelta(days=91)).timestamp() * 1000
    times = list(Post.objects.values_list("time", flat=True))
    assert all(oldest_ms < time <= now_ms for time in times)
    assert max(times) - min(times) > timedelta(days=60).total_seconds() * 1000  # spread out
    assert User.objects.exclude(avatar="").count() == DRAWN_AVATARS
    one_password = set(User.objects.values_list("password", flat=True))
    assert len(one_password) == 1  # one hash computed once, shared


def test_a_progress_bar_only_on_a_terminal(capsys):
    seed()
    assert capsys.readouterr().err == ""
    seed(stdout=Terminal(), flush=True)
    assert "seed_demo" in capsys.readouterr().err


def test_same_seed_same_data():
    seed()
    first = snapshot()
    seed(flush=True)
    assert snapshot() == first
    seed(flush=True, seed=8)
    assert snapshot() != first


def test_flush_deletes_only_demo_data(make_user):
    real = make_user(email="real@example.com")
    look_alikes = [
        make_user(email=email) for email in ("demo@example.org", "a@notdemo.example.com")
    ]
    Post.objects.create(author=real, msg="mine", time=1)
    seed()
    with pytest.raises(CommandError, match="--flush"):
        seed()
    seed(flush=True, users=10)
    assert User.objects.count() == 13
    assert User.objects.filter(pk__in=[real.pk, *(user.pk for user in look_alikes)]).count() == 3
    assert Post.objects.filter(author=real).count() == 1


def test_if_empty(make_user):
    make_user()
    output = seed(if_empty=True)
    assert "no demo data" in output
    assert DEMO_EMAIL not in output
    assert User.objects.count() == 1


def test_if_empty_reminds_of_the_demo_login():
    seed()
    output = seed(if_empty=True)
    assert "no demo data" in output
    assert f"{DEMO_EMAIL} / {DEMO_PASSWORD}" in output
    assert User.objects.count() == 30


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


@pytest.mark.django_db(transaction=True)
def test_the_sqlite_load_settings_are_for_the_load_only():
    """The bench measures on the connection that seeded: it must see the usual settings (the
    load's larger page cache and synchronous OFF are for the load only)."""
    if connection.vendor != "sqlite":
        pytest.skip("a SQLite setting")

    def settings():
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            cache_size = cursor.fetchone()[0]
            cursor.execute("PRAGMA synchronous")
            return cache_size, cursor.fetchone()[0]

    usual = settings()
    assert usual[1] == 1  # NORMAL, as settings.py sets it
    seed()
    assert settings() == usual


def age_today(birthday):
    today = timezone.localdate()
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


def test_cities_and_ages_that_the_search_finds(anon):
    """Demo users live in many cities and are 18 to 60 today, spread evenly, so that /get_data's
    `location` and `age1` / `age2` find people in the demo data."""
    seed(users=200, friends=2, posts=0, comments=0)
    users = User.objects.exclude(email=DEMO_EMAIL)
    assert len(set(users.values_list("location", flat=True))) >= 30
    ages = [age_today(birthday) for birthday in users.values_list("birthday", flat=True)]
    assert 18 <= min(ages) <= 20 and 58 <= max(ages) <= 60
    assert len(set(ages)) >= 30
    login = anon.post("/login", {"email": DEMO_EMAIL, "pass": DEMO_PASSWORD}).json()
    api = ApiClient(login["data"]["token"])
    search = {"email": DEMO_EMAIL, "start": 0, "limit": 100}

    def found(**filters):
        answer = api.get("/get_data", {**search, **filters}).json()
        assert answer["status"] == 1008, answer
        return [profile["email"] for profile in answer["data"]]

    city = users.order_by("pk").first().location
    living_there = set(users.filter(location__contains=city).values_list("email", flat=True))
    assert living_there and set(found(location=city)) == living_there
    in_their_thirties = {user.email for user in users if 30 <= age_today(user.birthday) <= 39}
    assert in_their_thirties and set(found(age1=30, age2=39)) == in_their_thirties
    assert found(order="newest")[0] == users.order_by("-date_joined", "-id").first().email


def test_the_newest_posts_of_the_demo_timeline_have_images_of_their_own(
    anon, django_capture_on_commit_callbacks
):
    seed(users=60, friends=5, posts=3)
    with_images = Post.objects.filter(images__isnull=False).distinct()
    assert with_images.count() == POSTS_WITH_IMAGES
    names = list(PostImage.objects.values_list("file", flat=True))
    assert POSTS_WITH_IMAGES <= len(names) <= POSTS_WITH_IMAGES * MAX_IMAGES_PER_POST
    assert len(set(names)) == len(names)  # a file per image: deleting a post deletes its own
    assert all(default_storage.exists(name) for name in names)
    login = anon.post("/login", {"email": DEMO_EMAIL, "pass": DEMO_PASSWORD}).json()
    api = ApiClient(login["data"]["token"])
    timeline = api.get("/get_friend_post", {"email": DEMO_EMAIL}).json()["data"]
    assert all(post["images"] for post in timeline[:POSTS_WITH_IMAGES])
    url = timeline[0]["images"][0]
    image = Image.open(default_storage.open(url.removeprefix("http://testserver/media/")))
    assert image.format == "WEBP" and max(image.size) <= 1080
    with django_capture_on_commit_callbacks(execute=True):  # the files go after the commit
        seed(flush=True, users=10, posts=0)
    assert not PostImage.objects.exists()
    assert not any(default_storage.exists(name) for name in names)


def test_no_posts_no_images():
    seed(posts=0)
    assert not PostImage.objects.exists()


def database_schema():
    """Every index and constraint of the database, as the database describes it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema()"
            )
            indexes = cursor.fetchall()
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace"
            )
            return sorted(indexes), sorted(cursor.fetchall())
        cursor.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type != 'table'")
        indexes = cursor.fetchall()
        # A table's constraints are in its CREATE TABLE statement; ANALYZE's statistics
        # (sqlite_stat1) are no part of the schema.
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_stat%'"
        )
        return sorted(indexes, key=repr), sorted(cursor.fetchall())


def test_the_schema_after_a_seed_is_the_migrated_one():
    """The load drops the secondary indexes (and on PostgreSQL the foreign-key and unique
    constraints) of the tables it fills and makes them again: all of them, as migrated."""
    migrated = database_schema()
    indexes, constraints = migrated
    names = repr(migrated)
    # the schema read is the real one: indexes and constraints of the loaded tables are in it
    assert "friendship_friend_owner" in names and "friends_friendship_unique_pair" in names
    assert "post_author_time" in names and "comment_post_created" in names
    seed(flush=False)
    assert database_schema() == migrated
    seed(flush=True, users=10)
    assert database_schema() == migrated


def test_seeded_rows_are_consistent(client):
    seed(users=50, friends=4, posts=3, comments=2)
    demo = User.objects.get(email=DEMO_EMAIL)
    peers = set(Message.objects.exclude(sender=demo).values_list("sender", flat=True))
    for user in User.objects.all():
        listed = Friendship.objects.filter(owner=user).count()
        # each lists --friends others; the demo user's chat peers list the demo user too
        assert listed == 4 + (user.pk in peers and listed > 4), user.email
        assert Post.objects.filter(author=user).count() == 3
    for peer in peers:  # the demo user's chat peers are mutual friends
        assert Friendship.objects.filter(owner=demo, friend=peer).exists()
        assert Friendship.objects.filter(owner=peer, friend=demo).exists()
    for post in Post.objects.prefetch_related("comments", "likes"):
        # a post's created_at is its client time, as stored through the ORM
        assert post.created_at == datetime.fromtimestamp(post.time / 1000, UTC)
        assert len(post.comments.all()) == 2
        assert all(comment.created_at > post.created_at for comment in post.comments.all())
        assert all(like.created_at > post.created_at for like in post.likes.all())
    # new rows after the explicit keys of the load get keys of their own (sequences follow)
    login = client.post("/login", {"email": DEMO_EMAIL, "pass": DEMO_PASSWORD}).json()
    api = ApiClient(login["data"]["token"])
    answer = api.post("/putPost", {"email": DEMO_EMAIL, "message": "新的一天", "time": "1"})
    assert answer.json()["status"] == 3001
    assert Post.objects.filter(author=demo).count() == 4
    User.objects.create_user(email="new@example.com", password="x" * 12)
    assert User.objects.count() == 51
