"""Who added me (/get_followers) and my block list (/get_blocks) (API.md, "Friends"), the indexes
that read them newest first, and both on a user's admin page (the followers count, the blocks
inline)."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from friends import services
from friends.models import Block, Friendship
from tests.factories import (
    FORBIDDEN,
    PROFILE_KEYS,
    befriend,
    block,
    body,
    expected_profile,
    with_avatar,
)
from tests.test_user_admin import change_form

pytestmark = pytest.mark.django_db

OK = (6001, "成功")
MISSING = {"status": 6000, "msg": "缺少有效参数"}
CARD_KEYS = {"email", "username", "name", "img"}
LISTS = ("/get_followers", "/get_blocks")


def listed(client, path, **params):
    """The `data` of a successful answer of `path` for alice, and its `has_more`."""
    answer = body(client.get(path, {"email": "alice@example.com", **params}))
    assert (answer["status"], answer["msg"]) == OK
    return answer["data"], answer["has_more"]


def emails(client, path, **params):
    data, _ = listed(client, path, **params)
    return [item["email"] for item in data]


def aged(row, minutes_ago):
    """Set when the friendship or block `row` was made, `minutes_ago` minutes back."""
    row.created_at = timezone.now() - timedelta(minutes=minutes_ago)
    row.save(update_fields=["created_at"])
    return row


class TestGetFollowers:
    @pytest.fixture
    def followers(self, user, bob, carol, make_user):
        """bob added alice 30 minutes ago, carol 20, dave 10; alice lists carol back; alice
        lists erin, who does not list her."""
        dave = make_user(email="dave@example.com", username="dave", location="北京")
        erin = make_user(email="erin@example.com")
        entries = [aged(befriend(bob, user), 30), aged(befriend(carol, user), 20)]
        entries.append(aged(befriend(dave, user, group="1"), 10))
        befriend(user, carol)
        befriend(user, erin)
        return entries

    def test_who_lists_me_newest_first_with_mutual_and_since(self, api, followers):
        data, has_more = listed(api, "/get_followers")
        assert [item["email"] for item in data] == [
            "dave@example.com",
            "carol@example.com",
            "bob@example.com",
        ]
        assert has_more == 0
        dave = data[0]
        assert set(dave) == PROFILE_KEYS | {"mutual", "since"}
        assert dave == {
            **expected_profile("dave@example.com", username="dave", location="北京"),
            "mutual": 0,
            "since": followers[2].created_at.isoformat(),
        }
        assert [item["mutual"] for item in data] == [0, 1, 0]  # alice lists carol too
        assert [item["since"] for item in data] == [
            entry.created_at.isoformat() for entry in reversed(followers)
        ]

    def test_a_group_move_keeps_since(self, api, client_for, user, bob):
        first = aged(befriend(bob, user), 30)
        params = {"email": bob.email, "femail": user.email, "group": "4"}
        assert body(client_for(bob).get("/set_friend", params))["status"] == 5003
        (item,), _ = listed(api, "/get_followers")
        assert item["since"] == first.created_at.isoformat()

    def test_the_same_moment_breaks_by_the_newer_entry(self, api, user, make_user):
        moment = timezone.now() - timedelta(hours=1)
        people = [make_user(email=f"same{number}@example.com") for number in range(5)]
        Friendship.objects.bulk_create(
            Friendship(owner=person, friend=user, group="3", created_at=moment) for person in people
        )
        newest_entry_first = [person.email for person in reversed(people)]
        assert emails(api, "/get_followers") == newest_entry_first
        pages = [emails(api, "/get_followers", start=start, limit=2) for start in (0, 2, 4)]
        assert sum(pages, []) == newest_entry_first

    def test_deactivated_and_blocked_either_way_are_left_out(self, api, user, followers, make_user):
        bob, carol, dave = (entry.owner for entry in followers)
        User.objects.filter(pk=bob.pk).update(is_active=False)
        # Rows the API never leaves (a block removes the friendships both ways), as a staff
        # member could: the list checks the blocks itself.
        block(user, carol)
        block(dave, user)
        assert emails(api, "/get_followers") == []
        Block.objects.all().delete()
        User.objects.filter(pk=bob.pk).update(is_active=True)
        assert emails(api, "/get_followers") == [dave.email, carol.email, bob.email]

    def test_a_block_through_the_api_ends_the_follow(self, api, user, followers):
        assert body(api.post("/block", {"email": user.email, "femail": "bob@example.com"}))[
            "status"
        ] == (5005)
        assert emails(api, "/get_followers") == ["dave@example.com", "carol@example.com"]

    def test_the_avatar_is_an_absolute_url(self, api, user, bob):
        befriend(with_avatar(bob), user)
        (item,), _ = listed(api, "/get_followers")
        assert item["img"].startswith("http://testserver/media/avatars/")

    def test_nobody_lists_me(self, api, user, bob):
        befriend(user, bob)  # one way, the other way round
        assert listed(api, "/get_followers") == ([], 0)


class TestGetBlocks:
    @pytest.fixture
    def blocked(self, user, bob, carol, make_user):
        """alice blocked bob 30 minutes ago, carol 20 and dave 10; erin blocked alice."""
        dave = make_user(email="dave@example.com", username="dave", name="Dave")
        erin = make_user(email="erin@example.com")
        made = [aged(services.block(user, other), ago) for other, ago in [(bob, 30), (carol, 20)]]
        made.append(aged(services.block(user, dave), 10))
        services.block(erin, user)
        return made

    def test_my_blocks_newest_first_as_cards_with_since(self, api, blocked):
        data, has_more = listed(api, "/get_blocks")
        assert data == [
            {
                "email": "dave@example.com",
                "username": "dave",
                "name": "Dave",
                "img": None,
                "since": blocked[2].created_at.isoformat(),
            },
            {
                "email": "carol@example.com",
                "username": "carol",
                "name": "",
                "img": None,
                "since": blocked[1].created_at.isoformat(),
            },
            {
                "email": "bob@example.com",
                "username": "bob",
                "name": "",
                "img": None,
                "since": blocked[0].created_at.isoformat(),
            },
        ]
        assert has_more == 0
        assert set(data[0]) == CARD_KEYS | {"since"}

    def test_a_card_even_when_they_blocked_me_too(self, api, client_for, user, bob, blocked):
        services.block(bob, user)
        data, _ = listed(api, "/get_blocks")
        assert data[-1]["email"] == "bob@example.com"
        assert set(data[-1]) == CARD_KEYS | {"since"}  # no profile: not one bob lets alice see
        assert body(api.get("/get_info", {"email": bob.email})) == MISSING

    def test_the_card_shows_the_avatar(self, api, user, bob):
        services.block(user, with_avatar(bob))
        (item,), _ = listed(api, "/get_blocks")
        assert item["img"].startswith("http://testserver/media/avatars/")

    def test_deactivated_users_are_left_out_and_unblock_removes(self, api, user, blocked):
        bob, carol, dave = (made.blocked for made in blocked)
        User.objects.filter(pk=carol.pk).update(is_active=False)
        assert emails(api, "/get_blocks") == [dave.email, bob.email]
        assert body(api.post("/unblock", {"email": user.email, "femail": dave.email}))[
            "status"
        ] == (5006)
        assert emails(api, "/get_blocks") == [bob.email]

    def test_the_same_moment_breaks_by_the_newer_block(self, api, user, make_user):
        moment = timezone.now() - timedelta(hours=1)
        people = [make_user(email=f"same{number}@example.com") for number in range(5)]
        Block.objects.bulk_create(
            Block(blocker=user, blocked=person, created_at=moment) for person in people
        )
        newest_block_first = [person.email for person in reversed(people)]
        pages = [emails(api, "/get_blocks", start=start, limit=2) for start in (0, 2, 4)]
        assert sum(pages, []) == newest_block_first

    def test_nobody_blocked(self, api, user, bob):
        services.block(bob, user)  # a block of alice is not on her list
        assert listed(api, "/get_blocks") == ([], 0)


@pytest.mark.parametrize("path", LISTS)
class TestBoth:
    def test_paging_and_has_more(self, api, user, make_user, path):
        for number in range(5):
            other = make_user(email=f"p{number}@example.com")
            row = befriend(other, user) if path == "/get_followers" else block(user, other)
            aged(row, 10 - number)
        newest_first = [f"p{number}@example.com" for number in reversed(range(5))]
        assert listed(api, path) == (listed(api, path, start=0, limit=100)[0], 0)
        assert emails(api, path) == newest_first
        assert listed(api, path, start=0, limit=2)[1] == 1
        assert emails(api, path, start=1, limit=2) == newest_first[1:3]
        assert listed(api, path, start=3, limit=2) == (listed(api, path, start=3)[0], 0)
        assert emails(api, path, start=3, limit=2) == newest_first[3:]
        assert listed(api, path, start=5) == ([], 0)

    def test_limit_is_clamped_to_100(self, api, user, path):
        others = User.objects.bulk_create(User(email=f"bulk{n}@example.com") for n in range(110))
        if path == "/get_followers":
            Friendship.objects.bulk_create(
                Friendship(owner=other, friend=user, group="2") for other in others
            )
        else:
            Block.objects.bulk_create(Block(blocker=user, blocked=other) for other in others)
        data, has_more = listed(api, path, limit=500)
        assert (len(data), has_more) == (100, 1)
        assert len(listed(api, path)[0]) == 20

    def test_missing_unknown_and_foreign(self, api, bob, path):
        assert body(api.get(path)) == MISSING
        assert body(api.get(path, {"email": "nobody@example.com"})) == MISSING
        assert body(api.get(path, {"email": bob.email}), 403) == FORBIDDEN

    def test_any_email_case(self, api, user, bob, path):
        befriend(bob, user) if path == "/get_followers" else block(user, bob)
        response = api.get(path, {"email": "ALICE@Example.com"})
        assert [item["email"] for item in body(response)["data"]] == [bob.email]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"start": "x"}, "start"),
            ({"start": "-1"}, "start"),
            ({"start": "99999999999999999999"}, "start"),
            ({"limit": "0"}, "limit"),
            ({"limit": "1.5"}, "limit"),
        ],
    )
    def test_malformed_paging_is_9400(self, api, user, path, params, field):
        data = body(api.get(path, {"email": user.email, **params}), 400)
        assert (data["status"], data["msg"]) == (9400, "参数格式错误")
        assert list(data["errors"]) == [field]

    def test_the_not_found_code_comes_before_the_format(self, api, path):
        response = api.get(path, {"email": "nobody@example.com", "start": "x"})
        assert body(response) == MISSING

    @pytest.mark.parametrize("rows", [1, 500])
    def test_query_count_does_not_grow(self, api, user, path, rows, django_assert_max_num_queries):
        others = User.objects.bulk_create(User(email=f"bulk{n}@example.com") for n in range(rows))
        if path == "/get_followers":
            Friendship.objects.bulk_create(
                Friendship(owner=other, friend=user, group="2") for other in others
            )
            # half of them mutual, so that `mutual` is read for both kinds
            Friendship.objects.bulk_create(
                Friendship(owner=user, friend=other, group="1") for other in others[::2]
            )
        else:
            Block.objects.bulk_create(Block(blocker=user, blocked=other) for other in others)
        # token lookup, token last-used update, the page (with its users and `mutual`); for
        # /get_followers, /get_badges' mark of the first page (an UPDATE, and on this first read
        # its INSERT in a savepoint: four statements)
        with django_assert_max_num_queries(7 if path == "/get_followers" else 3):
            data, has_more = listed(api, path, limit=100)
        assert (len(data), has_more) == (min(rows, 100), int(rows > 100))
        if path == "/get_followers":
            assert {item["mutual"] for item in data} == ({1} if rows == 1 else {0, 1})


# enough rows that reading them all costs more than an index range (a small table is read whole)
BUSY_ROWS = 20_000


def plan_of_the_page(client, path):
    """The plan of the query that reads the page of `path` for alice: on PostgreSQL as run
    (EXPLAIN ANALYZE, JSON), on SQLite its text (EXPLAIN QUERY PLAN)."""
    table = "friends_friendship" if path == "/get_followers" else "friends_block"
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path, {"email": "alice@example.com"}).json()["status"] == 6001
    (sql,) = [query["sql"] for query in queries if query["sql"].startswith(f'SELECT "{table}"')]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return "\n".join(row[-1] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        (plan,) = cursor.fetchone()
    return json.loads(plan) if isinstance(plan, str) else plan


def rows_read(node, table):
    """How many rows the plan `node` and the nodes under it read from `table`."""
    own = 0
    if node.get("Relation Name") == table:
        own = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
    return own + sum(rows_read(child, table) for child in node.get("Plans", []))


def node_types(node):
    yield node["Node Type"]
    for child in node.get("Plans", []):
        yield from node_types(child)


@pytest.mark.parametrize(
    ("path", "table", "index"),
    [
        ("/get_followers", "friends_friendship", "friendship_friend_added"),
        ("/get_blocks", "friends_block", "block_blocker_added"),
    ],
)
def test_the_page_is_an_index_range_read_newest_first(api, user, path, table, index):
    """ "Who lists me" and "my blocks", newest first, come from an index read backwards: no sort
    of every row, and (PostgreSQL, with a busy table) about a page of rows read."""
    others = User.objects.bulk_create(User(email=f"bulk{n}@example.com") for n in range(2000))
    if path == "/get_followers":
        Friendship.objects.bulk_create(
            Friendship(owner=other, friend=user, group="2") for other in others
        )
    else:
        Block.objects.bulk_create(Block(blocker=user, blocked=other) for other in others)
    if connection.vendor == "postgresql":
        # Many rows of other users too, so that the table is not read whole anyway.
        pairs = [(others[n], others[(n + k) % 2000]) for n in range(2000) for k in (1, 2, 3, 4)]
        if path == "/get_followers":
            Friendship.objects.bulk_create(
                Friendship(owner=owner, friend=friend, group="3") for owner, friend in pairs
            )
        else:
            Block.objects.bulk_create(Block(blocker=one, blocked=two) for one, two in pairs)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}" if connection.vendor == "postgresql" else "ANALYZE")
    plan = plan_of_the_page(api, path)
    if connection.vendor != "postgresql":
        assert f"SEARCH {table} USING INDEX {index}" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
        return
    text = json.dumps(plan)
    assert f'"Index Name": "{index}"' in text, json.dumps(plan, indent=1)
    assert "Sort" not in set(node_types(plan[0]["Plan"])), json.dumps(plan, indent=1)
    # the page of 20 and one more, for has_more
    assert rows_read(plan[0]["Plan"], table) <= 21, json.dumps(plan, indent=1)


class TestTheUserAdminPage:
    def page(self, client, user):
        response = client.get(f"/admin/accounts/user/{user.pk}/change/")
        assert response.status_code == 200
        return response

    def test_shows_the_followers_count(self, superuser_client, user, bob, carol, make_user):
        befriend(bob, user)
        befriend(carol, user)
        gone = make_user(email="gone@example.com", is_active=False)
        befriend(gone, user)  # deactivated: /get_followers leaves them out, and so the count
        befriend(user, make_user())  # alice's own list is another count
        page = self.page(superuser_client, user).content.decode()
        assert "关注者（把 TA 加入列表的用户，同 /get_followers）：2" in page
        assert "关注者（把 TA 加入列表的用户，同 /get_followers）：0" in (
            self.page(superuser_client, bob).content.decode()
        )

    def test_shows_the_block_list_newest_first(self, superuser_client, user, bob, carol):
        aged(services.block(user, bob), 30)
        aged(services.block(user, carol), 10)
        services.block(carol, bob)  # carol's, not alice's
        response = self.page(superuser_client, user)
        (formset,) = [
            inline.formset
            for inline in response.context["inline_admin_formsets"]
            if inline.formset.model is Block
        ]
        assert [form.instance.blocked.email for form in formset.forms] == [
            carol.email,
            bob.email,
        ]
        page = response.content.decode()
        assert "拉黑名单（TA 拉黑的用户，最新的在前）" in page
        assert page.index("carol@example.com") < page.index("bob@example.com")

    def test_the_block_list_is_read_only_but_a_block_can_be_lifted(
        self, superuser_client, user, bob
    ):
        services.block(user, bob)
        response = self.page(superuser_client, user)
        (inline,) = [
            inline
            for inline in response.context["inline_admin_formsets"]
            if inline.formset.model is Block
        ]
        assert not inline.has_add_permission
        assert set(inline.formset.forms[0].fields) <= {"id", "blocker", "DELETE"}
        data = change_form(superuser_client, user)
        prefix = inline.formset.prefix
        data[f"{prefix}-0-DELETE"] = "on"
        page = f"/admin/accounts/user/{user.pk}/change/"
        assert superuser_client.post(page, data).status_code == 302
        assert not Block.objects.exists()

    def test_a_moderator_sees_the_blocks_and_cannot_lift_them(self, client, moderator, user, bob):
        services.block(user, bob)
        client.force_login(moderator)
        response = self.page(client, user)
        (inline,) = [
            inline
            for inline in response.context["inline_admin_formsets"]
            if inline.formset.model is Block
        ]
        assert [form.instance.blocked for form in inline.formset.forms] == [bob]
        assert not inline.formset.can_delete

    @pytest.mark.parametrize("rows", [1, 50])
    def test_the_page_reads_the_blocks_in_one_query(
        self, superuser_client, user, rows, django_assert_max_num_queries
    ):
        others = User.objects.bulk_create(User(email=f"bulk{n}@example.com") for n in range(rows))
        Block.objects.bulk_create(Block(blocker=user, blocked=other) for other in others)
        Friendship.objects.bulk_create(
            Friendship(owner=other, friend=user, group="1") for other in others
        )
        # session, staff user, the user, the staff user's groups and permissions, the friend
        # list, the block list with both users of each row, the followers count, the choices of
        # the groups and permissions fields
        with django_assert_max_num_queries(10):
            response = self.page(superuser_client, user)
        (formset,) = [
            inline.formset
            for inline in response.context["inline_admin_formsets"]
            if inline.formset.model is Block
        ]
        assert len(formset.forms) == rows
