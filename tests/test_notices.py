"""Notices (API.md, "Notices"): /get_notices, /read_notices, /get_badges, the notices that
follows, comments and likes make (from the lower apps' signals), what hides and what deletes
them, the `notice` frame pushed to the recipient's sockets, their query counts and plans, and
the read-only admin."""

import io
import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import AuthToken, User
from feed.demo import DEMO_EMAIL, DEMO_PASSWORD
from feed.models import Comment, Like, Post
from friends import services as friend_services
from friends.models import FollowersSeen, Friendship
from notices.models import Notice
from socialsite.asgi import application
from tests.factories import (
    FORBIDDEN,
    PASSWORD,
    ApiClient,
    befriend,
    block,
    body,
    make_friends,
    make_messages,
    make_post,
    with_avatar,
)

pytestmark = pytest.mark.django_db

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
OK = (7002, "成功")
READ = {"status": 7003, "msg": "已读"}
MISSING = {"status": 7000, "msg": "缺少参数"}
NOTICE_KEYS = {"id", "type", "actor", "post", "comment", "text", "created_at", "read"}


@pytest.fixture
def bob_api(client_for, bob):
    return client_for(bob)


@pytest.fixture
def carol_api(client_for, carol):
    return client_for(carol)


@pytest.fixture
def alice_post(user):
    return make_post(user, msg="alice's post")


def notices_of(client, email=ALICE, **params):
    answer = body(client.get("/get_notices", {"email": email, **params}))
    assert (answer["status"], answer["msg"]) == OK, answer
    return answer


def listed(client, **params):
    """(type, actor's email) of each notice /get_notices shows alice, newest first."""
    return [(item["type"], item["actor"]["email"]) for item in notices_of(client, **params)["data"]]


def badges_of(client, email=ALICE):
    answer = body(client.get("/get_badges", {"email": email}))
    assert (answer["status"], answer["msg"]) == OK, answer
    return answer["data"]


def add(client, owner, friend, group="3"):
    params = {"email": owner, "femail": friend, "group": group}
    assert body(client.get("/set_friend", params))["status"] == 5003


def comment(client, post, text, email):
    params = {"email": email, "id": post.pk, "comment": text}
    answer = body(client.post("/comment", params))
    assert answer["status"] == 3007, answer
    return answer["data"]


def card(user, img=None):
    return {"email": user.email, "username": user.username, "name": user.name, "img": img}


class TestFollow:
    def test_an_add_makes_a_follow_notice(self, api, bob_api, bob):
        add(bob_api, BOB, ALICE)
        stored = Notice.objects.get()
        (item,) = notices_of(api)["data"]
        assert set(item) == NOTICE_KEYS
        assert item == {
            "id": stored.pk,
            "type": "follow",
            "actor": card(bob),
            "post": None,
            "comment": None,
            "text": "",
            "created_at": stored.created_at.isoformat(),
            "read": 0,
        }

    def test_a_group_move_makes_none(self, api, bob_api):
        add(bob_api, BOB, ALICE, "3")
        add(bob_api, BOB, ALICE, "1")
        assert listed(api) == [("follow", BOB)]

    def test_rm_friend_deletes_it_and_a_new_add_makes_a_new_one(self, api, bob_api):
        add(bob_api, BOB, ALICE)
        first = Notice.objects.get().pk
        assert body(bob_api.get("/rm_friend", {"email": BOB, "femail": ALICE}))["status"] == 5004
        assert listed(api) == []
        assert not Notice.objects.exists()
        add(bob_api, BOB, ALICE)
        assert Notice.objects.get().pk != first

    @pytest.mark.parametrize("blocker", ["alice", "bob"])
    def test_a_block_either_way_deletes_it(self, api, bob_api, blocker):
        add(bob_api, BOB, ALICE)
        client, email, femail = (api, ALICE, BOB) if blocker == "alice" else (bob_api, BOB, ALICE)
        assert body(client.post("/block", {"email": email, "femail": femail}))["status"] == 5005
        assert not Notice.objects.exists()
        assert body(client.post("/unblock", {"email": email, "femail": femail}))["status"] == 5006
        assert listed(api) == []  # the friendship, and so the notice, stays gone

    def test_none_across_a_block_even_when_the_row_is_made_directly(self, user, bob):
        block(user, bob)
        befriend(bob, user)  # the API refuses it (5007); an ORM write is not notified either
        assert not Notice.objects.exists()

    def test_the_follower_is_told_nothing(self, api, bob_api):
        add(api, ALICE, BOB)
        assert listed(api) == []
        assert listed(bob_api, email=BOB) == [("follow", ALICE)]


class TestComment:
    def test_a_comment_on_my_post_makes_a_notice_with_its_first_50_characters(
        self, api, bob_api, bob, alice_post
    ):
        text = "好" * 60
        made = comment(bob_api, alice_post, text, BOB)
        stored = Notice.objects.get()
        (item,) = notices_of(api)["data"]
        assert item == {
            "id": stored.pk,
            "type": "comment",
            "actor": card(bob),
            "post": alice_post.pk,
            "comment": made["id"],
            "text": "好" * 50,
            "created_at": stored.created_at.isoformat(),
            "read": 0,
        }

    def test_my_own_comment_makes_none(self, api, alice_post):
        comment(api, alice_post, "my own", ALICE)
        assert not Notice.objects.exists()

    def test_a_comment_on_someone_elses_post_tells_its_author_only(
        self, api, bob_api, carol_api, bob_post
    ):
        comment(carol_api, bob_post, "hi bob", CAROL)
        assert listed(api) == []
        assert listed(bob_api, email=BOB) == [("comment", CAROL)]

    def test_deleting_the_comment_deletes_its_notice(self, api, bob_api, alice_post):
        made = comment(bob_api, alice_post, "soon gone", BOB)
        Comment.objects.filter(pk=made["id"]).delete()
        assert not Notice.objects.exists()

    def test_deleting_the_post_deletes_its_notices(self, api, bob_api, bob, alice_post):
        comment(bob_api, alice_post, "on it", BOB)
        Like.objects.create(user=bob, post=alice_post)
        add(bob_api, BOB, ALICE)
        assert body(api.get("/delPost", {"email": ALICE, "id": alice_post.pk}))["status"] == 3005
        assert listed(api) == [("follow", BOB)]

    def test_a_rolled_back_comment_leaves_no_notice(self, bob, alice_post):
        with pytest.raises(RuntimeError), transaction.atomic():
            alice_post.comments.create(author=bob, text="undone")
            assert Notice.objects.count() == 1
            raise RuntimeError
        assert not Notice.objects.exists()


class TestLike:
    """Likes are feed's: made with the ORM's create() and deleted through the ORM, as /like and
    /unlike do."""

    def test_a_like_of_my_post_makes_a_notice(self, api, bob, alice_post):
        like = Like.objects.create(user=bob, post=alice_post)
        stored = Notice.objects.get()
        assert (stored.like, stored.post) == (like, alice_post)
        (item,) = notices_of(api)["data"]
        assert item == {
            "id": stored.pk,
            "type": "like",
            "actor": card(bob),
            "post": alice_post.pk,
            "comment": None,
            "text": "",
            "created_at": stored.created_at.isoformat(),
            "read": 0,
        }

    def test_my_own_like_makes_none(self, user, alice_post):
        Like.objects.create(user=user, post=alice_post)
        assert not Notice.objects.exists()

    @pytest.mark.parametrize("read", [False, True])
    def test_unliking_deletes_its_notice(self, api, bob, alice_post, read):
        like = Like.objects.create(user=bob, post=alice_post)
        if read:
            assert body(api.post("/read_notices", {"email": ALICE})) == READ
        like.delete()
        assert listed(api) == []

    def test_one_notice_per_like(self, bob, alice_post):
        like = Like.objects.create(user=bob, post=alice_post)
        with pytest.raises(IntegrityError), transaction.atomic():
            Notice.objects.create(
                recipient=alice_post.author, actor=bob, type="like", post=alice_post, like=like
            )


class TestConstraints:
    @pytest.mark.parametrize(
        "fields",
        [
            {"type": "follow"},  # no friendship
            {"type": "comment", "with_post": True},  # no comment
            {"type": "like", "with_post": True},  # no like
            {"type": "other", "with_friendship": True},
        ],
    )
    def test_a_notice_names_what_its_type_needs(self, user, bob, fields):
        fields = dict(fields)
        if fields.pop("with_post", False):
            fields["post"] = make_post(user)
        if fields.pop("with_friendship", False):
            fields["friendship"] = Friendship.objects.bulk_create(
                [Friendship(owner=bob, friend=user, group="1")]
            )[0]
        with pytest.raises(IntegrityError), transaction.atomic():
            Notice.objects.create(recipient=user, actor=bob, **fields)

    def test_nobody_is_their_own_actor(self, user, bob):
        (friendship,) = Friendship.objects.bulk_create(
            [Friendship(owner=bob, friend=user, group="1")]
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            Notice.objects.create(recipient=user, actor=user, type="follow", friendship=friendship)

    def test_one_notice_per_friendship_and_per_comment(self, user, bob, alice_post):
        friendship = befriend(bob, user)
        with pytest.raises(IntegrityError), transaction.atomic():
            Notice.objects.create(recipient=user, actor=bob, type="follow", friendship=friendship)
        made = alice_post.comments.create(author=bob, text="x")
        with pytest.raises(IntegrityError), transaction.atomic():
            Notice.objects.create(
                recipient=user, actor=bob, type="comment", post=alice_post, comment=made
            )


class TestHidden:
    """Hidden while it lasts (query conditions), back when it ends."""

    @pytest.fixture
    def three_kinds(self, bob, alice_post, user):
        befriend(bob, user)
        alice_post.comments.create(author=bob, text="hi")
        Like.objects.create(user=bob, post=alice_post)

    def test_a_deactivated_actors_notices_are_hidden(self, api, bob, three_kinds):
        assert badges_of(api)["notices"] == 3
        bob.is_active = False
        bob.save()
        assert listed(api) == []
        assert badges_of(api)["notices"] == 0
        bob.is_active = True
        bob.save()
        assert listed(api) == [("like", BOB), ("comment", BOB), ("follow", BOB)]
        assert badges_of(api)["notices"] == 3

    @pytest.mark.parametrize("blocker", ["alice", "bob"])
    def test_a_block_either_way_hides_the_actors_notices(
        self, api, user, bob, three_kinds, blocker
    ):
        one, other = (user, bob) if blocker == "alice" else (bob, user)
        friend_services.block(one, other)  # the follow goes with the friendship
        assert listed(api) == []
        assert badges_of(api)["notices"] == 0
        friend_services.unblock(one, other)
        assert listed(api) == [("like", BOB), ("comment", BOB)]

    def test_a_post_or_comment_hidden_by_staff_hides_its_notices(
        self, api, alice_post, three_kinds
    ):
        Comment.objects.update(is_hidden=True)
        assert listed(api) == [("like", BOB), ("follow", BOB)]
        Post.objects.update(is_hidden=True)
        assert listed(api) == [("follow", BOB)]
        assert badges_of(api)["notices"] == 1


class TestGetNotices:
    def test_newest_first_with_unread_paging_and_has_more(self, api, user, make_user):
        people = [make_user(email=f"p{number}@example.com") for number in range(5)]
        for person in people:
            befriend(person, user)
        newest_first = [person.email for person in reversed(people)]
        page = notices_of(api)
        assert [item["actor"]["email"] for item in page["data"]] == newest_first
        assert page["has_more"] == 0
        page = notices_of(api, start=1, limit=2)
        assert [item["actor"]["email"] for item in page["data"]] == newest_first[1:3]
        assert page["has_more"] == 1
        assert notices_of(api, start=3, limit=2)["has_more"] == 0
        second_oldest = Notice.objects.order_by("id")[1].pk
        assert body(api.post("/read_notices", {"email": ALICE, "id": second_oldest})) == READ
        unread = notices_of(api, unread=1)
        assert [item["actor"]["email"] for item in unread["data"]] == newest_first[:3]
        assert {item["read"] for item in unread["data"]} == {0}
        assert [item["read"] for item in notices_of(api)["data"]] == [0, 0, 0, 1, 1]
        assert notices_of(api, unread=0)["data"] == notices_of(api)["data"]
        assert notices_of(api, unread=1, start=2, limit=1)["has_more"] == 0

    def test_codes(self, api, bob):
        assert body(api.get("/get_notices")) == MISSING
        assert body(api.get("/get_notices", {"email": "nobody@example.com"})) == MISSING
        assert body(api.get("/get_notices", {"email": BOB}), 403) == FORBIDDEN
        assert notices_of(api, email="ALICE@Example.com")["data"] == []

    @pytest.mark.parametrize(
        ("params", "field"),
        [({"unread": "2"}, "unread"), ({"unread": "yes"}, "unread"), ({"start": "-1"}, "start")],
    )
    def test_malformed_parameters_are_9400(self, api, params, field):
        answer = body(api.get("/get_notices", {"email": ALICE, **params}), 400)
        assert (answer["status"], list(answer["errors"])) == (9400, [field])

    def test_9403_comes_before_the_format(self, api, bob):
        assert body(api.get("/get_notices", {"email": BOB, "unread": "x"}), 403) == FORBIDDEN

    def test_the_actors_card_has_the_avatars_absolute_url(self, api, bob, user):
        bob = with_avatar(bob)
        befriend(bob, user)
        (item,) = notices_of(api)["data"]
        assert item["actor"] == card(bob, img=f"http://testserver{bob.avatar.url}")


class TestReadNotices:
    @pytest.fixture
    def four(self, user, make_user):
        for number in range(4):
            befriend(make_user(email=f"r{number}@example.com"), user)
        return list(Notice.objects.order_by("id").values_list("pk", flat=True))

    def test_up_to_and_including_an_id(self, api, four):
        assert body(api.post("/read_notices", {"email": ALICE, "id": four[1]})) == READ
        assert [item["read"] for item in notices_of(api)["data"]] == [0, 0, 1, 1]
        assert badges_of(api)["notices"] == 2
        # an older id reads nothing more and unreads nothing
        assert body(api.post_json("/read_notices", {"email": ALICE, "id": four[0]})) == READ
        assert badges_of(api)["notices"] == 2

    def test_without_an_id_all(self, api, four):
        assert body(api.post("/read_notices", {"email": ALICE})) == READ
        assert notices_of(api, unread=1)["data"] == []
        assert badges_of(api)["notices"] == 0

    def test_only_the_callers(self, api, bob_api, user, bob, four):
        befriend(user, bob)
        assert body(api.post("/read_notices", {"email": ALICE})) == READ
        assert [item["read"] for item in notices_of(bob_api, email=BOB)["data"]] == [0]

    def test_codes(self, api, bob):
        assert body(api.post("/read_notices", {})) == MISSING
        assert body(api.post("/read_notices", {"email": "nobody@example.com"})) == MISSING
        assert body(api.post("/read_notices", {"email": BOB}), 403) == FORBIDDEN
        assert api.get("/read_notices", {"email": ALICE}).status_code == 405

    @pytest.mark.parametrize("value", ["x", "1.5", "-1", "99999999999999999999"])
    def test_an_id_that_is_not_a_whole_number_is_9400(self, api, four, value):
        answer = body(api.post("/read_notices", {"email": ALICE, "id": value}), 400)
        assert (answer["status"], list(answer["errors"])) == (9400, ["id"])
        assert badges_of(api)["notices"] == 4


class TestBadges:
    def test_nothing(self, api):
        assert badges_of(api) == {"notices": 0, "messages": 0, "followers": 0}

    def test_codes(self, api, bob):
        assert body(api.get("/get_badges")) == MISSING
        assert body(api.get("/get_badges", {"email": "nobody@example.com"})) == MISSING
        assert body(api.get("/get_badges", {"email": BOB}), 403) == FORBIDDEN

    def test_messages_count_what_get_chats_shows(self, api, user, bob, carol, make_user):
        make_friends(user, bob)
        make_friends(user, carol)
        make_messages(bob, user, 3)
        make_messages(user, bob, 2)  # mine are never unread to me
        make_messages(carol, user, 4)
        chats = body(api.get("/get_chats", {"email": ALICE}))["data"]
        assert sum(chat["unread"] for chat in chats) == 7
        assert badges_of(api)["messages"] == 7
        newest_of_bob = body(api.get("/get_msgs", {"email": ALICE, "femail": BOB}))["data"][2]
        params = {"email": ALICE, "femail": BOB, "id": newest_of_bob["id"]}
        assert body(api.post("/read_msgs", params))["status"] == 8006
        assert badges_of(api)["messages"] == 4
        block(user, carol)  # a blocked conversation is left out of /get_chats
        assert badges_of(api)["messages"] == 0
        make_messages(bob, user, 1, is_hidden=True)  # hidden by a moderator
        assert badges_of(api)["messages"] == 0

    def test_followers_since_the_first_page_was_last_read(self, api, user, make_user):
        first, second = make_user(email="f1@example.com"), make_user(email="f2@example.com")
        befriend(first, user)
        befriend(second, user)
        assert badges_of(api)["followers"] == 2  # never read: all of them
        answer = body(api.get("/get_followers", {"email": ALICE, "start": 1, "limit": 1}))
        assert answer["status"] == 6001
        assert badges_of(api)["followers"] == 2  # not the first page
        answer = body(api.get("/get_followers", {"email": ALICE, "limit": 1}))
        assert [item["email"] for item in answer["data"]] == [second.email]
        assert badges_of(api)["followers"] == 0
        third = make_user(email="f3@example.com")
        befriend(third, user)
        assert badges_of(api)["followers"] == 1
        third.is_active = False  # counted as the list shows them
        third.save()
        assert badges_of(api)["followers"] == 0

    def test_the_mark_never_moves_back(self, api, user, make_user):
        older, newer = make_user(), make_user()
        befriend(older, user)
        befriend(newer, user)
        assert body(api.get("/get_followers", {"email": ALICE}))["status"] == 6001
        seen = FollowersSeen.objects.get(user=user).seen_until
        assert seen == Friendship.objects.get(owner=newer).created_at
        Friendship.objects.filter(owner=newer).delete()  # the newest follower leaves
        assert body(api.get("/get_followers", {"email": ALICE}))["status"] == 6001
        assert FollowersSeen.objects.get(user=user).seen_until == seen
        assert badges_of(api)["followers"] == 0

    def test_an_empty_first_page_sets_no_mark(self, api, user):
        assert body(api.get("/get_followers", {"email": ALICE}))["data"] == []
        assert not FollowersSeen.objects.exists()

    def test_notices_count_the_unread_ones(self, api, bob, carol, user):
        befriend(bob, user)
        befriend(carol, user)
        assert badges_of(api)["notices"] == 2
        assert body(api.post("/read_notices", {"email": ALICE})) == READ
        assert badges_of(api)["notices"] == 0


# Fixed numbers of queries whatever the counts (after a first call, which also records the
# token's use: the token's look-up and then the endpoint's own queries)


@pytest.fixture
def crowd(user):
    """crowd(count) → `count` users who each list alice (each a follow notice, made in bulk as
    the signal would) and comment on her post (a comment notice); with `messages`, each also
    sends her two messages."""

    def make(count, *, messages=False):
        people = User.objects.bulk_create(
            User(email=f"crowd{number}@example.com") for number in range(count)
        )
        friendships = Friendship.objects.bulk_create(
            [Friendship(owner=person, friend=user, group="3") for person in people]
            + [Friendship(owner=user, friend=person, group="3") for person in people]
        )
        post = make_post(user)
        comments = Comment.objects.bulk_create(
            Comment(post=post, author=person, text="hi") for person in people
        )
        Notice.objects.bulk_create(
            [
                Notice(recipient=user, actor=friendship.owner, type="follow", friendship=friendship)
                for friendship in friendships[:count]
            ]
            + [
                Notice(recipient=user, actor=made.author, type="comment", post=post, comment=made)
                for made in comments
            ]
        )
        for person in people if messages else []:
            make_messages(person, user, 2)
        return people

    return make


@pytest.mark.parametrize("count", [1, 500])
@pytest.mark.parametrize(
    ("method", "path", "params", "queries"),
    [
        ("get", "/get_notices", {"limit": 100}, 1),  # the page with its actors
        ("get", "/get_notices", {"limit": 100, "unread": 1}, 1),
        ("get", "/get_badges", {}, 3),  # the notices', the messages' and the followers' count
        ("post", "/read_notices", {}, 1),  # one UPDATE
        ("post", "/read_notices", {"id": "250"}, 1),
    ],
)
def test_a_fixed_number_of_queries(
    api, crowd, count, method, path, params, queries, django_assert_num_queries
):
    crowd(count, messages=path == "/get_badges")
    call = getattr(api, method)
    assert body(call(path, {"email": ALICE, **params}))["status"] in {7002, 7003}
    with django_assert_num_queries(1 + queries):  # the token, then the endpoint's
        answer = body(call(path, {"email": ALICE, **params}))
    if path == "/get_notices":
        assert (len(answer["data"]), answer["has_more"]) == (min(2 * count, 100), int(count > 50))
    if path == "/get_badges":
        assert answer["data"] == {"notices": 2 * count, "messages": 2 * count, "followers": count}


@pytest.mark.parametrize("count", [1, 500])
def test_the_first_page_of_get_followers_adds_the_marks_update(
    api, crowd, count, django_assert_num_queries
):
    crowd(count)
    # the first read: the page, the mark's UPDATE (of no row) and its INSERT in a savepoint
    with django_assert_num_queries(7):
        assert len(body(api.get("/get_followers", {"email": ALICE, "limit": 100}))["data"]) == (
            min(count, 100)
        )
    with django_assert_num_queries(3):  # the token; the page and the mark's UPDATE
        body(api.get("/get_followers", {"email": ALICE, "limit": 100}))
    assert badges_of(api)["followers"] == 0


# The plans: each list and count is a range of its index


def plans(client, path, params, table):
    """The plans of the queries of `path` that read from `table`: PostgreSQL's (EXPLAIN, text)
    or SQLite's (EXPLAIN QUERY PLAN)."""
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path, {"email": ALICE, **params}).json()["status"] in {6001, 7002}
    found = []
    for sql in [query["sql"] for query in captured if f'FROM "{table}"' in query["sql"]]:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"EXPLAIN {sql}")
                found.append("\n".join(row[0] for row in cursor.fetchall()))
            else:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
                found.append("\n".join(row[-1] for row in cursor.fetchall()))
    assert found
    return found


class TestPlans:
    @pytest.fixture
    def busy(self, user, bob, make_user):
        """alice's notices: 30 follows. On PostgreSQL also 300 comment notices of hers (a few
        rows are sorted whatever the indexes) and 40,000 of other users' (a small table is read
        whole, and with her notices a large share of the table, reading the newest of all of
        them until a page of hers is found would be the cheaper plan)."""
        for number in range(30):
            befriend(make_user(email=f"fan{number}@example.com"), user)
        if connection.vendor != "postgresql":
            return  # SQLite plans without statistics: its plan does not depend on the rows
        others = User.objects.bulk_create(
            User(email=f"busy{number}@example.com") for number in range(400)
        )
        friendships = Friendship.objects.bulk_create(
            Friendship(owner=one, friend=other, group="3")
            for one in others[:200]
            for other in others[200:]
        )
        Notice.objects.bulk_create(
            Notice(recipient=row.friend, actor=row.owner, type="follow", friendship=row)
            for row in friendships
        )
        post = make_post(user)
        comments = Comment.objects.bulk_create(
            Comment(post=post, author=others[number % 2], text="hi") for number in range(300)
        )
        Notice.objects.bulk_create(
            Notice(recipient=user, actor=made.author, type="comment", post=post, comment=made)
            for made in comments
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    @pytest.mark.parametrize(
        ("params", "index"),
        [({}, "notice_recipient_newest"), ({"unread": 1}, "notice_recipient_unread")],
        ids=["all", "unread"],
    )
    def test_get_notices_reads_a_range_of_its_index(self, api, busy, params, index):
        (plan,) = plans(api, "/get_notices", params, "notices_notice")
        if connection.vendor == "postgresql":
            assert index in plan, plan
            assert "Sort" not in plan and "Seq Scan on notices_notice" not in plan, plan
        else:
            assert f"SEARCH notices_notice USING INDEX {index}" in plan, plan
            assert "TEMP B-TREE" not in plan, plan

    def test_the_badges_counts_read_ranges_of_their_indexes(self, api, busy):
        (plan,) = plans(api, "/get_badges", {}, "notices_notice")
        (followers,) = plans(api, "/get_badges", {}, "friends_friendship")
        if connection.vendor == "postgresql":
            assert "notice_recipient_" in plan, plan  # either index of the recipient's notices
            assert "Seq Scan on notices_notice" not in plan, plan
            assert "Index Scan" in followers, followers  # one of those that start with friend
            assert "Seq Scan on friends_friendship" not in followers, followers
        else:
            assert "SEARCH notices_notice USING INDEX notice_recipient_unread" in plan, plan
            assert "SCAN notices_notice" not in plan, plan
            assert "SEARCH friends_friendship USING" in followers, followers
            assert "SCAN friends_friendship" not in followers, followers


# Races


def in_threads(calls):
    """Run each of `calls` (a function of no arguments) in a thread of its own, all at once;
    returns what they raised."""
    barrier = threading.Barrier(len(calls))
    errors = []

    def run(call):
        try:
            barrier.wait(timeout=10)
            call()
        except Exception as error:  # reported in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


@pytest.mark.django_db(transaction=True)
def test_racing_adds_make_one_follow_notice(make_user):
    owner, friend = make_user(), make_user()
    clients = [ApiClient(AuthToken.objects.issue(owner)) for _ in range(2)]

    def adder(client, group):
        def call():
            params = {"email": owner.email, "femail": friend.email, "group": group}
            assert client.get("/set_friend", params).json()["status"] == 5003

        return call

    for _ in range(5):
        assert in_threads([adder(clients[0], "1"), adder(clients[1], "2")]) == []
        assert Notice.objects.filter(recipient=friend, actor=owner).count() == 1
        Friendship.objects.all().delete()
        assert not Notice.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_racing_first_reads_of_get_followers_store_one_mark(make_user):
    owner = make_user()
    befriend(make_user(), owner)
    clients = [ApiClient(AuthToken.objects.issue(owner)) for _ in range(2)]

    def reader(client):
        def call():
            assert client.get("/get_followers", {"email": owner.email}).json()["status"] == 6001

        return call

    for _ in range(5):
        assert in_threads([reader(client) for client in clients]) == []
        assert FollowersSeen.objects.filter(user=owner).count() == 1
        FollowersSeen.objects.all().delete()


# The `notice` frame (API.md, "Real time"), through socialsite.asgi on the in-memory layer


async def open_socket(token):
    communicator = WebsocketCommunicator(
        application, "/ws", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from())["type"] == "ready"
    return communicator


@pytest.mark.django_db(transaction=True)
class TestFrames:
    def test_each_new_notice_is_pushed_to_the_recipients_sockets(self, user, bob, carol, settings):
        settings.SITE_URL = "https://social.example.com"
        bob = with_avatar(bob)
        alice_key, bob_key = AuthToken.objects.issue(user), AuthToken.objects.issue(bob)
        bob_api, carol_api = ApiClient(bob_key), ApiClient(AuthToken.objects.issue(carol))
        post = make_post(user)

        async def scenario():
            alices, bobs = await open_socket(alice_key), await open_socket(bob_key)
            await sync_to_async(add)(bob_api, BOB, ALICE)
            follow = await alices.receive_json_from()
            await sync_to_async(comment)(carol_api, post, "评论" * 30, CAROL)
            commented = await alices.receive_json_from()
            await sync_to_async(Like.objects.create)(user=bob, post=post)
            liked = await alices.receive_json_from()
            assert await bobs.receive_nothing(0.1)  # the actor's own sockets get nothing
            for communicator in (alices, bobs):
                await communicator.disconnect()
            return follow, commented, liked

        frames = async_to_sync(scenario)()
        assert [frame["type"] for frame in frames] == ["notice"] * 3
        listed_now = notices_of(ApiClient(alice_key))["data"][::-1]
        bobs_card = card(bob, img=f"https://social.example.com{bob.avatar.url}")
        for frame, item in zip(frames, listed_now, strict=True):
            # the frame's avatar URL is under SITE_URL, the list's under the request's host
            assert frame["data"] == {**item, "actor": frame["data"]["actor"]}
            assert frame["data"]["actor"] == (
                card(carol) if item["type"] == "comment" else bobs_card
            )
        assert frames[1]["data"]["text"] == "评论" * 25

    def test_no_frame_for_what_makes_no_notice(self, user, bob):
        alice_key = AuthToken.objects.issue(user)
        bob_api = ApiClient(AuthToken.objects.issue(bob))
        post = make_post(user)

        async def scenario():
            alices = await open_socket(alice_key)
            await sync_to_async(add)(bob_api, BOB, ALICE, "1")
            assert (await alices.receive_json_from())["type"] == "notice"
            await sync_to_async(add)(bob_api, BOB, ALICE, "2")  # a group move
            await sync_to_async(comment)(ApiClient(alice_key), post, "mine", ALICE)  # my own
            assert await alices.receive_nothing(0.2)
            await alices.disconnect()

        async_to_sync(scenario)()


# The admin: read-only, and out of the way of deleting what its notices are about


class TestAdmin:
    def test_staff_see_notices_and_cannot_add_or_change_them(
        self, superuser_client, user, bob, alice_post
    ):
        befriend(bob, user)
        alice_post.comments.create(author=bob, text="一条评论")
        listing = superuser_client.get("/admin/notices/notice/")
        assert listing.status_code == 200
        assert "一条评论" in listing.content.decode()
        notice = Notice.objects.get(type="comment")
        page = superuser_client.get(f"/admin/notices/notice/{notice.pk}/change/")
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert superuser_client.get("/admin/notices/notice/add/").status_code == 403
        changed = superuser_client.post(
            f"/admin/notices/notice/{notice.pk}/change/", {"text": "edited", "read": "on"}
        )
        assert changed.status_code == 403
        notice.refresh_from_db()
        assert (notice.text, notice.read) == ("一条评论", False)

    def test_moderators_see_notices_read_only(self, client, moderator, user, bob):
        befriend(bob, user)
        client.force_login(moderator)
        assert client.get("/admin/notices/notice/").status_code == 200
        notice = Notice.objects.get()
        page = client.get(f"/admin/notices/notice/{notice.pk}/change/")
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert (
            client.post(f"/admin/notices/notice/{notice.pk}/delete/", {"post": "yes"}).status_code
            == 403
        )
        assert Notice.objects.exists()

    def test_deleting_a_post_in_the_admin_takes_its_notices(
        self, superuser_client, bob, alice_post
    ):
        alice_post.comments.create(author=bob, text="hi")
        response = superuser_client.post(
            f"/admin/feed/post/{alice_post.pk}/delete/", {"post": "yes"}
        )
        assert response.status_code == 302
        assert not Post.objects.exists()
        assert not Notice.objects.exists()


def test_deleting_an_account_takes_the_notices_it_made_and_received(api, user, bob, carol):
    befriend(bob, user)
    befriend(user, carol)
    assert Notice.objects.count() == 2
    answer = body(api.post("/delete_account", {"email": ALICE, "pass": PASSWORD}))
    assert answer == {"status": 1015, "msg": "账号已注销"}
    assert not User.objects.filter(email=ALICE).exists()
    assert not Notice.objects.exists()


def test_seed_demo_gives_the_demo_user_notices(client):
    call_command("seed_demo", users=30, friends=6, posts=2, comments=1, stdout=io.StringIO())
    signed_in = client.post("/login", {"email": DEMO_EMAIL, "pass": DEMO_PASSWORD}).json()
    api = ApiClient(signed_in["data"]["token"])
    everything = notices_of(api, email=DEMO_EMAIL, limit=100)["data"]
    demo = User.objects.get(email=DEMO_EMAIL)
    follows = Friendship.objects.filter(friend=demo).count()
    others_comments = Comment.objects.filter(post__author=demo).exclude(author=demo).count()
    others_likes = Like.objects.filter(post__author=demo).exclude(user=demo).count()
    assert follows > 0 and others_comments > 0
    assert len(everything) == follows + others_comments + others_likes > 5
    assert {item["type"] for item in everything} >= {"follow", "comment"}
    likes = [item for item in everything if item["type"] == "like"]
    assert len(likes) == others_likes
    assert [item["read"] for item in everything] == [0] * 5 + [1] * (len(everything) - 5)
    assert badges_of(api, DEMO_EMAIL)["notices"] == 5
