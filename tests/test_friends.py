"""Friend lists and blocking: /set_friend, /rm_friend, /get_friends, /is_friend, /block,
/unblock (API.md, "Friends"), the race on one pair, and the friendship and block admin (the
friendships on a user's admin page are tests/test_user_admin.py's)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AuthToken, User
from friends import services
from friends.models import Block, Friendship, Group
from tests.factories import FORBIDDEN, ApiClient, body, expected_profile, friend_list, interest_tags

pytestmark = pytest.mark.django_db


class TestEveryEndpoint:
    ENDPOINTS = {
        "/set_friend": ("GET", "POST"),
        "/rm_friend": ("GET", "POST"),
        "/get_friends": ("GET",),
        "/is_friend": ("GET",),
        "/get_followers": ("GET",),
        "/get_blocks": ("GET",),
        "/block": ("POST",),
        "/unblock": ("POST",),
        "/get_data": ("GET",),
        "/recommend": ("GET",),
    }

    @pytest.mark.parametrize("path", ENDPOINTS)
    def test_needs_a_token(self, anon, path):
        response = anon.get(path, {"email": "alice@example.com"})
        if "GET" not in self.ENDPOINTS[path]:
            response = anon.post(path, {"email": "alice@example.com"})
        assert body(response, 401) == {"status": 9401, "msg": "请先登录"}

    @pytest.mark.parametrize("path", ENDPOINTS)
    def test_a_deactivated_caller_is_refused(self, api, user, path):
        User.objects.filter(pk=user.pk).update(is_active=False)
        method = self.ENDPOINTS[path][0]
        response = api.get(path) if method == "GET" else api.post(path)
        assert body(response, 403) == {"status": 9402, "msg": "账号已被封禁"}

    @pytest.mark.parametrize(("path", "allowed"), ENDPOINTS.items())
    def test_other_methods_are_405_with_allow(self, api, path, allowed):
        response = api.put(path)
        assert body(response, 405) == {"status": 9405, "msg": "请求方法不允许"}
        assert response["Allow"] == ", ".join(allowed)
        if "POST" not in allowed:
            assert body(api.post(path), 405)["status"] == 9405
        if "GET" not in allowed:
            assert body(api.get(path), 405)["status"] == 9405

    @pytest.mark.parametrize(
        ("method", "path", "params", "expected"),
        [
            ("get", "/set_friend", {"femail": "b\x00@example.com", "group": "1"}, 5002),
            ("get", "/rm_friend", {"femail": "b\x00@example.com"}, 5001),
            ("get", "/is_friend", {"femail": "b\x00@example.com"}, 6001),
            ("post", "/block", {"femail": "b\x00@example.com"}, 5002),
            ("get", "/get_friends", {"email": "a\x00@example.com"}, 6000),
            ("get", "/get_followers", {"email": "a\x00@example.com"}, 6000),
            ("get", "/get_blocks", {"email": "a\x00@example.com"}, 6000),
            ("get", "/recommend", {"email": "a\x00@example.com"}, 1007),
        ],
    )
    def test_an_email_with_a_nul_names_nobody(self, api, user, method, path, params, expected):
        response = getattr(api, method)(path, {"email": user.email, **params})
        assert body(response)["status"] == expected


class TestSetFriend:
    def test_adds_in_the_group(self, api, user, bob):
        response = api.get("/set_friend", {"email": user.email, "femail": bob.email, "group": "2"})
        assert body(response) == {"status": 5003, "msg": "添加成功"}
        assert friend_list(user) == [("bob@example.com", Group.GOOD)]
        assert friend_list(bob) == []  # directed, like following

    def test_post_form_and_json_and_any_email_case(self, api, user, bob, carol):
        form = {"email": "ALICE@example.com", "femail": "Bob@Example.COM", "group": "1"}
        assert body(api.post("/set_friend", form))["status"] == 5003
        json = {"email": user.email, "femail": carol.email, "group": 4}
        assert body(api.post_json("/set_friend", json))["status"] == 5003
        assert friend_list(user) == [("bob@example.com", "1"), ("carol@example.com", "4")]

    def test_moving_keeps_one_row_and_the_place_in_the_list(self, api, user, bob, carol):
        for femail, group in [(bob.email, "1"), (carol.email, "2"), (bob.email, "4")]:
            params = {"email": user.email, "femail": femail, "group": group}
            assert body(api.get("/set_friend", params))["status"] == 5003
        assert friend_list(user) == [("bob@example.com", "4"), ("carol@example.com", "2")]
        data = body(api.get("/get_friends", {"email": user.email}))["data"]
        assert data["friends"] == ["bob@example.com", "carol@example.com"]
        assert (data["group1"], data["group2"], data["group4"]) == (
            [],
            ["carol@example.com"],
            ["bob@example.com"],
        )

    @pytest.mark.parametrize("missing", ["email", "femail", "group"])
    def test_missing_parameter(self, api, user, bob, missing):
        params = {"email": user.email, "femail": bob.email, "group": "1", missing: ""}
        assert body(api.get("/set_friend", params)) == {"status": 5000, "msg": "缺乏参数"}
        assert not Friendship.objects.exists()

    @pytest.mark.parametrize("group", ["0", "5", "a", "11", "特别关心"])
    def test_unknown_group(self, api, user, bob, group):
        params = {"email": user.email, "femail": bob.email, "group": group}
        assert body(api.get("/set_friend", params)) == {"status": 5000, "msg": "组别不存在"}
        assert not Friendship.objects.exists()

    def test_not_oneself(self, api, user):
        params = {"email": user.email, "femail": "Alice@example.com", "group": "1"}
        assert body(api.get("/set_friend", params)) == {"status": 5000, "msg": "不能添加自己为好友"}
        assert not Friendship.objects.exists()

    def test_unknown_email_comes_first(self, api, user):
        params = {"email": "nobody@example.com", "femail": "nobody2@example.com", "group": "1"}
        assert body(api.get("/set_friend", params)) == {"status": 5001, "msg": "无此用户"}

    def test_unknown_or_deactivated_femail(self, api, user, bob):
        params = {"email": user.email, "femail": "nobody@example.com", "group": "1"}
        assert body(api.get("/set_friend", params)) == {"status": 5002, "msg": "添加的用户不存在"}
        User.objects.filter(pk=bob.pk).update(is_active=False)
        params["femail"] = bob.email
        assert body(api.get("/set_friend", params)) == {"status": 5002, "msg": "添加的用户不存在"}
        assert not Friendship.objects.exists()

    def test_not_found_codes_come_before_ownership(self, api, bob, carol):
        params = {"email": bob.email, "femail": "nobody@example.com", "group": "1"}
        assert body(api.get("/set_friend", params))["status"] == 5002
        params["femail"] = carol.email
        assert body(api.get("/set_friend", params), 403) == FORBIDDEN
        assert not Friendship.objects.exists()

    def test_refused_when_blocked_by_femail(self, api, user, bob):
        services.block(bob, user)
        params = {"email": user.email, "femail": bob.email, "group": "1"}
        assert body(api.get("/set_friend", params)) == {"status": 5007, "msg": "对方已将你拉黑"}
        assert not Friendship.objects.exists()

    def test_refused_while_the_caller_blocks_femail(self, api, user, bob):
        services.block(user, bob)
        params = {"email": user.email, "femail": bob.email, "group": "1"}
        assert body(api.get("/set_friend", params)) == {"status": 5007, "msg": "对方已将你拉黑"}
        assert not Friendship.objects.exists()
        services.unblock(user, bob)
        assert body(api.get("/set_friend", params))["status"] == 5003


class TestRmFriend:
    def test_removes_and_is_idempotent(self, api, user, bob):
        services.set_friend(user, bob, "1")
        services.set_friend(bob, user, "2")
        params = {"email": user.email, "femail": bob.email}
        assert body(api.get("/rm_friend", params)) == {"status": 5004, "msg": "删除成功"}
        assert body(api.post("/rm_friend", params)) == {"status": 5004, "msg": "删除成功"}
        assert friend_list(user) == []
        assert friend_list(bob) == [("alice@example.com", "2")]  # only the caller's own list

    def test_a_deactivated_friend_can_be_removed(self, api, user, bob):
        services.set_friend(user, bob, "1")
        User.objects.filter(pk=bob.pk).update(is_active=False)
        assert body(api.get("/rm_friend", {"email": user.email, "femail": bob.email}))[
            "status"
        ] == (5004)
        assert friend_list(user) == []

    @pytest.mark.parametrize("missing", ["email", "femail"])
    def test_missing_parameter(self, api, user, bob, missing):
        params = {"email": user.email, "femail": bob.email, missing: ""}
        assert body(api.get("/rm_friend", params)) == {"status": 5000, "msg": "缺乏参数"}

    def test_unknown_users(self, api, user, bob):
        for params in [
            {"email": "nobody@example.com", "femail": bob.email},
            {"email": user.email, "femail": "nobody@example.com"},
            {"email": bob.email, "femail": "nobody@example.com"},
        ]:
            assert body(api.get("/rm_friend", params)) == {"status": 5001, "msg": "用户不存在"}

    def test_only_the_owner(self, api, user, bob):
        services.set_friend(bob, user, "1")
        response = api.get("/rm_friend", {"email": bob.email, "femail": user.email})
        assert body(response, 403) == FORBIDDEN
        assert friend_list(bob) == [("alice@example.com", "1")]


class TestGetFriends:
    def test_lists_groups_and_profiles_in_first_added_order(self, api, user, bob, carol):
        dave = User.objects.create_user(email="dave@example.com", username="dave")
        services.set_friend(user, carol, "3")
        services.set_friend(user, bob, "1")
        services.set_friend(user, dave, "3")
        response = api.get("/get_friends", {"email": user.email})
        data = body(response)
        assert (data["status"], data["msg"]) == (6001, "成功")
        emails = ["carol@example.com", "bob@example.com", "dave@example.com"]
        assert data["data"]["friends"] == emails
        assert data["data"]["group1"] == ["bob@example.com"]
        assert data["data"]["group2"] == []
        assert data["data"]["group3"] == ["carol@example.com", "dave@example.com"]
        assert data["data"]["group4"] == []
        profiles = data["data"]["profiles"]
        assert list(profiles) == emails
        assert profiles["bob@example.com"] == expected_profile(
            "bob@example.com", username="bob", like="篮球"
        )

    def test_empty_list(self, api, user):
        data = body(api.get("/get_friends", {"email": user.email}))["data"]
        assert data == {
            "friends": [],
            "group1": [],
            "group2": [],
            "group3": [],
            "group4": [],
            "profiles": {},
        }

    def test_deactivated_friends_are_hidden(self, api, user, bob, carol):
        services.set_friend(user, bob, "1")
        services.set_friend(user, carol, "1")
        User.objects.filter(pk=bob.pk).update(is_active=False)
        data = body(api.get("/get_friends", {"email": user.email}))["data"]
        assert data["friends"] == ["carol@example.com"]
        assert list(data["profiles"]) == ["carol@example.com"]

    def test_missing_unknown_and_foreign(self, api, bob):
        missing = {"status": 6000, "msg": "缺少有效参数"}
        assert body(api.get("/get_friends")) == missing
        assert body(api.get("/get_friends", {"email": "nobody@example.com"})) == missing
        assert body(api.get("/get_friends", {"email": bob.email}), 403) == FORBIDDEN

    @pytest.mark.parametrize("friend_count", [1, 50])
    def test_query_count_does_not_grow(
        self, api, user, make_user, friend_count, django_assert_max_num_queries
    ):
        for number in range(friend_count):
            services.set_friend(user, make_user(like=f"tag{number}"), Group.values[number % 4])
        # token lookup, token last-used update, the list with its friends
        with django_assert_max_num_queries(3):
            data = body(api.get("/get_friends", {"email": user.email}))["data"]
        assert len(data["friends"]) == len(data["profiles"]) == friend_count


class TestIsFriend:
    def test_not_listed(self, api, user, bob):
        services.set_friend(bob, user, "1")  # bob lists alice, not the other way round
        response = api.get("/is_friend", {"email": user.email, "femail": bob.email})
        assert body(response) == {"status": 6001, "msg": "成功", "res": 0}

    def test_listed_one_way_and_mutual(self, api, user, bob):
        services.set_friend(user, bob, "3")
        params = {"email": user.email, "femail": "BOB@example.com"}
        expected = {"status": 6001, "msg": "成功", "res": 1, "group": "3", "mutual": 0}
        assert body(api.get("/is_friend", params)) == expected
        services.set_friend(bob, user, "1")
        assert body(api.get("/is_friend", params)) == {**expected, "mutual": 1}

    def test_unknown_femail_is_not_a_friend(self, api, user):
        response = api.get("/is_friend", {"email": user.email, "femail": "nobody@example.com"})
        assert body(response) == {"status": 6001, "msg": "成功", "res": 0}

    def test_missing_unknown_and_foreign(self, api, user, bob):
        missing = {"status": 6000, "msg": "缺少有效参数"}
        assert body(api.get("/is_friend", {"email": user.email})) == missing
        assert body(api.get("/is_friend", {"femail": bob.email})) == missing
        params = {"email": "nobody@example.com", "femail": bob.email}
        assert body(api.get("/is_friend", params)) == missing
        params = {"email": bob.email, "femail": user.email}
        assert body(api.get("/is_friend", params), 403) == FORBIDDEN


class TestBlock:
    def test_block_removes_both_friendships_and_is_idempotent(self, api, user, bob, carol):
        services.set_friend(user, bob, "1")
        services.set_friend(bob, user, "2")
        services.set_friend(user, carol, "1")
        params = {"email": user.email, "femail": bob.email}
        assert body(api.post("/block", params)) == {"status": 5005, "msg": "已拉黑"}
        assert body(api.post_json("/block", params)) == {"status": 5005, "msg": "已拉黑"}
        assert list(Block.objects.values_list("blocker__email", "blocked__email")) == [
            ("alice@example.com", "bob@example.com")
        ]
        assert friend_list(user) == [("carol@example.com", "1")]
        assert friend_list(bob) == []

    def test_unblock_is_idempotent_and_friendships_stay_removed(self, api, user, bob):
        services.set_friend(user, bob, "1")
        services.block(user, bob)
        params = {"email": user.email, "femail": bob.email}
        assert body(api.post("/unblock", params)) == {"status": 5006, "msg": "已取消拉黑"}
        assert body(api.post("/unblock", params)) == {"status": 5006, "msg": "已取消拉黑"}
        assert not Block.objects.exists()
        assert friend_list(user) == []

    def test_unblock_lifts_only_the_callers_own_block(self, api, user, bob):
        services.block(bob, user)
        assert body(api.post("/unblock", {"email": user.email, "femail": bob.email}))["status"] == (
            5006
        )
        assert Block.objects.filter(blocker=bob, blocked=user).exists()

    @pytest.mark.parametrize("path", ["/block", "/unblock"])
    @pytest.mark.parametrize("missing", ["email", "femail"])
    def test_missing_parameter(self, api, user, bob, path, missing):
        params = {"email": user.email, "femail": bob.email, missing: ""}
        assert body(api.post(path, params)) == {"status": 5000, "msg": "缺乏参数"}

    @pytest.mark.parametrize("path", ["/block", "/unblock"])
    def test_unknown_users_then_ownership(self, api, user, bob, carol, path):
        not_found = {"status": 5002, "msg": "用户不存在"}
        for params in [
            {"email": "nobody@example.com", "femail": bob.email},
            {"email": user.email, "femail": "nobody@example.com"},
            {"email": bob.email, "femail": "nobody@example.com"},
        ]:
            assert body(api.post(path, params)) == not_found
        response = api.post(path, {"email": bob.email, "femail": carol.email})
        assert body(response, 403) == FORBIDDEN
        assert not Block.objects.exists()

    def test_not_oneself(self, api, user):
        response = api.post("/block", {"email": user.email, "femail": user.email})
        assert body(response) == {"status": 5000, "msg": "不能拉黑自己"}
        assert not Block.objects.exists()

    def test_hides_each_from_the_other(self, api, client_for, user, bob, carol):
        bob_api = client_for(bob)
        bob.like = user.like = "篮球"
        bob.save()
        user.save()
        assert body(api.post("/block", {"email": user.email, "femail": bob.email}))["status"] == (
            5005
        )
        # API.md: search, recommendations, /get_info (through User.objects.visible_to, which
        # /get_info uses), /set_friend (5007) — both ways.
        assert set(User.objects.visible_to(user)) == {user, carol}
        assert set(User.objects.visible_to(bob)) == {bob, carol}
        for caller, client, other in [(user, api, bob), (bob, bob_api, user)]:
            search = {"email": caller.email, "start": 0, "limit": 10}
            assert [p["email"] for p in body(client.get("/get_data", search))["data"]] == [
                carol.email
            ]
            found = body(client.get("/get_data", {**search, "femail": other.email}))
            assert found["data"] == []
            recommended = body(client.get("/recommend", {"email": caller.email}))["data"]
            assert [p["email"] for p in recommended] == [carol.email]
            params = {"email": caller.email, "femail": other.email, "group": "1"}
            assert body(client.get("/set_friend", params))["status"] == 5007
            info = body(client.get("/get_info", {"email": other.email}))
            assert info == {"status": 6000, "msg": "缺少有效参数"}
        assert body(api.post("/unblock", {"email": user.email, "femail": bob.email}))["status"] == (
            5006
        )
        assert set(User.objects.visible_to(user)) == {user, bob, carol}
        params = {"email": bob.email, "femail": user.email, "group": "1"}
        assert body(bob_api.get("/set_friend", params))["status"] == 5003


def set_friend_in_threads(owner, friend, groups):
    """Call /set_friend for the same pair from one thread per group, all at once, each thread a
    client of its own (as two app instances would be); returns what went wrong."""
    clients = [ApiClient(AuthToken.objects.issue(owner)) for _ in groups]
    barrier = threading.Barrier(len(groups))
    errors = []

    def run(client, group):
        try:
            barrier.wait(timeout=10)
            params = {"email": owner.email, "femail": friend.email, "group": group}
            answer = client.post("/set_friend", params).json()
            if answer != {"status": 5003, "msg": "添加成功"}:
                errors.append(answer)
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(client, group))
        for client, group in zip(clients, groups, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_set_friend_leaves_exactly_one_row(make_user):
    owner, friend = make_user(), make_user()
    for _ in range(5):
        errors = set_friend_in_threads(owner, friend, ["1", "4"])
        assert errors == []
        rows = list(Friendship.objects.filter(owner=owner, friend=friend).values_list("group"))
        assert rows in ([("1",)], [("4",)])
        Friendship.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_keep_the_first_added_time(make_user):
    owner, friend = make_user(), make_user()
    services.set_friend(owner, friend, "2")
    added = Friendship.objects.get().created_at
    assert set_friend_in_threads(owner, friend, ["1", "3", "4"]) == []
    moved = Friendship.objects.get()
    assert moved.created_at == added
    assert moved.group in {"1", "3", "4"}


class TestAdmin:
    def test_friendship_list_filter_and_search(self, superuser_client, user, bob, carol):
        services.set_friend(user, bob, "1")
        services.set_friend(carol, user, "2")
        response = superuser_client.get("/admin/friends/friendship/")
        assert response.status_code == 200
        assert response.context["cl"].result_count == 2
        filtered = superuser_client.get("/admin/friends/friendship/", {"group__exact": "2"})
        assert [str(f.owner) for f in filtered.context["cl"].result_list] == [carol.email]
        for query, owners in [("bob@", [user.email]), ("carol@", [carol.email])]:
            found = superuser_client.get("/admin/friends/friendship/", {"q": query})
            assert [str(f.owner) for f in found.context["cl"].result_list] == owners

    def test_autocomplete_for_both_users(self, superuser_client, bob):
        response = superuser_client.get(
            "/admin/autocomplete/",
            {
                "app_label": "friends",
                "model_name": "friendship",
                "field_name": "friend",
                "term": "bob",
            },
        )
        assert response.status_code == 200
        assert [result["text"] for result in response.json()["results"]] == [bob.email]

    def test_a_block_added_by_staff_removes_the_friendships(self, superuser_client, user, bob):
        services.set_friend(user, bob, "1")
        services.set_friend(bob, user, "1")
        response = superuser_client.post(
            "/admin/friends/block/add/", {"blocker": str(bob.pk), "blocked": str(user.pk)}
        )
        assert response.status_code == 302
        assert Block.objects.filter(blocker=bob, blocked=user).exists()
        assert not Friendship.objects.exists()
        listing = superuser_client.get("/admin/friends/block/", {"q": "alice@"})
        assert listing.context["cl"].result_count == 1

    def test_a_block_cannot_be_repointed_to_another_pair(self, superuser_client, user, bob, carol):
        stored = services.block(bob, user)
        page = f"/admin/friends/block/{stored.pk}/change/"
        response = superuser_client.post(page, {"blocker": str(carol.pk), "blocked": str(user.pk)})
        assert response.status_code == 302
        assert list(Block.objects.values_list("blocker", "blocked")) == [(bob.pk, user.pk)]

    def test_staff_cannot_add_a_friendship_across_a_block(self, superuser_client, user, bob):
        services.block(bob, user)
        response = superuser_client.post(
            "/admin/friends/friendship/add/",
            {"owner": str(user.pk), "friend": str(bob.pk), "group": "1"},
        )
        assert response.status_code == 200  # the form again, with the error
        assert "两人之间有拉黑" in response.content.decode()
        assert not Friendship.objects.exists()


def test_moving_keeps_created_at(make_user):
    owner, friend = make_user(), make_user()
    services.set_friend(owner, friend, "1")
    added = Friendship.objects.get().created_at
    Friendship.objects.update(created_at=added - timedelta(days=3))
    services.set_friend(owner, friend, "2")
    moved = Friendship.objects.get()
    assert (moved.group, moved.created_at) == ("2", added - timedelta(days=3))
    assert moved.created_at < timezone.now() - timedelta(days=2)


def test_reset_keeps_the_interest_tags_in_sync(api, user):
    assert (
        api.post("/reset", {"email": user.email, "like": "篮球，Music / 篮球"}).json()["status"]
        == 1002
    )
    assert interest_tags(user) == ["篮球", "music"]
    api.post("/reset", {"email": user.email, "introduction": "hi"})
    assert interest_tags(user) == ["篮球", "music"]
    api.post("/reset", {"email": user.email, "like": "围棋"})
    assert interest_tags(user) == ["围棋"]


@pytest.mark.parametrize("friend_count", [1, 50])
@pytest.mark.parametrize(
    ("method", "path", "extra", "expected", "budget"),
    [
        # Each starts with the token lookup and its last-used update, then finds femail.
        # The transaction: savepoints, the pair's lock, the block check, update_or_create's
        # locked read and its insert in a savepoint.
        ("get", "/set_friend", {"group": "3"}, 5003, 13),
        # The entry's id, the DELETE of its follow notice (notices' foreign key cascades), the
        # DELETE of the entry.
        ("get", "/rm_friend", {}, 5004, 6),
        ("get", "/is_friend", {}, 6001, 4),  # the entry with its mutual flag
        # The transaction: the pair's lock, the entries' ids, the DELETE of their follow notices
        # and one of both entries, get_or_create of the block.
        ("post", "/block", {}, 5005, 13),
        ("post", "/unblock", {}, 5006, 4),  # one DELETE
    ],
)
def test_query_count_does_not_grow_with_the_lists(
    api,
    user,
    bob,
    make_user,
    friend_count,
    method,
    path,
    extra,
    expected,
    budget,
    django_assert_max_num_queries,
):
    services.set_friend(user, bob, "1")
    services.set_friend(bob, user, "1")
    for _ in range(friend_count):
        friend = make_user()
        for owner, listed in [(user, friend), (friend, user), (bob, friend), (friend, bob)]:
            services.set_friend(owner, listed, "2")
    with django_assert_max_num_queries(budget):
        response = getattr(api, method)(path, {"email": user.email, "femail": bob.email, **extra})
    assert body(response)["status"] == expected
