"""Profiles: /reset and /get_info (the user admin is tests/test_user_admin.py's)."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import AuthToken, User
from feed.models import Post
from friends.models import Block, Friendship, Group
from tests import images
from tests.factories import (
    NEW_PASSWORD,
    PASSWORD,
    PROFILE_KEYS,
    login,
)
from tests.images import b64

pytestmark = pytest.mark.django_db


class TestReset:
    def test_changes_the_given_fields_and_returns_the_profile(self, api, user):
        response = api.post(
            "/reset",
            {
                "email": "ALICE@example.com",
                "username": "爱丽丝",
                "sex": "女",
                "birthday": "1999-12-31",
                "like": "篮球,音乐",
                "flike": "旅行",
                "location": "上海",
                "introduction": "你好",
            },
        )
        body = response.json()
        assert response.status_code == 200
        assert (body["status"], body["msg"]) == (1002, "修改成功")
        assert set(body["data"]) == PROFILE_KEYS
        assert body["data"] == {
            "email": "alice@example.com",
            "name": "Alice",  # not given: unchanged
            "username": "爱丽丝",
            "sex": "女",
            "birthday": "1999-12-31",
            "like": "篮球,音乐",
            "flike": "旅行",
            "img": None,
            "location": "上海",
            "introduction": "你好",
        }
        user.refresh_from_db()
        assert (user.username, user.birthday.isoformat(), user.location) == (
            "爱丽丝",
            "1999-12-31",
            "上海",
        )

    def test_missing_and_empty_fields_are_left_unchanged(self, api, user):
        User.objects.filter(pk=user.pk).update(like="篮球", location="北京")
        body = api.post(
            "/reset", {"email": "alice@example.com", "like": "", "name": " \t\n", "sex": ""}
        ).json()
        assert body["status"] == 1002
        assert (body["data"]["like"], body["data"]["location"], body["data"]["name"]) == (
            "篮球",
            "北京",
            "Alice",
        )

    def test_only_the_changed_fields_are_written(self, api, user):
        # Staff deactivate the account while the request holds its stale copy of the user.
        User.objects.filter(pk=user.pk).update(like="篮球")
        api.post("/reset", {"email": "alice@example.com", "name": "New"})
        user.refresh_from_db()
        assert (user.name, user.like) == ("New", "篮球")

    def test_json_body(self, api, user):
        body = api.post_json("/reset", {"email": "alice@example.com", "sex": "其他"}).json()
        assert (body["status"], body["data"]["sex"]) == (1002, "其他")

    def test_missing_email(self, api, user):
        for data in ({}, {"email": "", "name": "x"}):
            assert api.post("/reset", data).json() == {"status": 1006, "msg": "缺乏邮箱参数"}

    def test_unknown_email(self, api, user):
        body = api.post("/reset", {"email": "nobody@example.com", "name": "x"}).json()
        assert body == {"status": 1009, "msg": "没有该用户"}

    def test_another_users_profile(self, api, user, make_user):
        bob = make_user(email="bob@example.com", name="Bob")
        response = api.post("/reset", {"email": "bob@example.com", "name": "hacked"})
        assert response.status_code == 403
        assert response.json() == {"status": 9403, "msg": "无权操作其他用户"}
        bob.refresh_from_db()
        assert bob.name == "Bob"

    def test_without_a_token(self, anon, user):
        response = anon.post("/reset", {"email": "alice@example.com", "name": "x"})
        assert response.status_code == 401
        assert response.json() == {"status": 9401, "msg": "请先登录"}

    def test_deactivated_user(self, api, user):
        User.objects.filter(pk=user.pk).update(is_active=False)
        response = api.post("/reset", {"email": "alice@example.com", "name": "x"})
        assert response.status_code == 403
        assert response.json() == {"status": 9402, "msg": "账号已被封禁"}

    def test_get_is_not_allowed(self, api, user):
        response = api.get("/reset", {"email": "alice@example.com"})
        assert response.status_code == 405
        assert response["Allow"] == "POST"
        assert response.json() == {"status": 9405, "msg": "请求方法不允许"}

    def test_malformed_fields_get_9400_per_field_and_change_nothing(self, api, user):
        response = api.post(
            "/reset",
            {
                "email": "alice@example.com",
                "name": "Changed",
                "sex": "unknown",
                "birthday": "31/12/1999",
                "username": "x" * 51,
                "location": "x" * 101,
                "like": "x" * 201,
                "flike": "x" * 201,
                "introduction": "x" * 501,
            },
        )
        body = response.json()
        assert response.status_code == 400
        assert (body["status"], body["msg"]) == (9400, "参数格式错误")
        assert set(body["errors"]) == {
            "sex",
            "birthday",
            "username",
            "location",
            "like",
            "flike",
            "introduction",
        }
        assert all(body["errors"][field] for field in body["errors"])
        user.refresh_from_db()
        assert user.name == "Alice"

    def test_a_birthday_in_the_future(self, api, user):
        tomorrow = timezone.localdate() + timedelta(days=1)
        response = api.post("/reset", {"email": "alice@example.com", "birthday": str(tomorrow)})
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["birthday"]
        today = str(timezone.localdate())
        body = api.post("/reset", {"email": "alice@example.com", "birthday": today}).json()
        assert (body["status"], body["data"]["birthday"]) == (1002, today)

    def test_the_longest_allowed_texts(self, api, user):
        data = {"name": "n" * 50, "location": "l" * 100, "introduction": "i" * 500}
        body = api.post("/reset", {"email": "alice@example.com", **data}).json()
        assert body["status"] == 1002
        assert {name: body["data"][name] for name in data} == data


class TestPasswordChange:
    def test_changes_the_password_and_revokes_every_other_token(self, api, user, client_for):
        other_device = client_for(user)
        body = api.post(
            "/reset", {"email": "alice@example.com", "pass": NEW_PASSWORD, "old_pass": PASSWORD}
        ).json()
        assert body["status"] == 1002
        assert "pass" not in body["data"] and "password" not in str(body)

        assert api.post("/reset", {"email": "alice@example.com"}).json()["status"] == 1002
        response = other_device.post("/reset", {"email": "alice@example.com"})
        assert response.json()["status"] == 9401
        assert AuthToken.objects.filter(user=user).usable().count() == 1
        assert login("alice@example.com", PASSWORD)["status"] == 1001
        assert login("alice@example.com", NEW_PASSWORD)["status"] == 1002

    @pytest.mark.parametrize("old_pass", [None, "wrong-password"])
    def test_old_pass_missing_or_wrong(self, api, user, client_for, old_pass):
        other_device = client_for(user)
        data = {"email": "alice@example.com", "pass": NEW_PASSWORD, "name": "x"}
        if old_pass:
            data["old_pass"] = old_pass
        assert api.post("/reset", data).json() == {"status": 1001, "msg": "密码错误"}
        user.refresh_from_db()
        assert user.check_password(PASSWORD) and user.name == "Alice"
        assert other_device.post("/reset", {"email": "alice@example.com"}).json()["status"] == 1002

    def test_old_pass_alone_changes_nothing(self, api, user):
        body = api.post("/reset", {"email": "alice@example.com", "old_pass": "whatever"}).json()
        assert body["status"] == 1002
        user.refresh_from_db()
        assert user.check_password(PASSWORD)

    @pytest.mark.parametrize("weak", ["short", "12345678901", "password123", "alice@example.com"])
    def test_the_password_validators(self, api, user, weak):
        response = api.post(
            "/reset", {"email": "alice@example.com", "pass": weak, "old_pass": PASSWORD}
        )
        body = response.json()
        assert response.status_code == 400
        assert body["status"] == 9400 and list(body["errors"]) == ["pass"]
        user.refresh_from_db()
        assert user.check_password(PASSWORD)

    def test_guessing_the_old_password_is_limited(self, api, user):
        data = {"email": "alice@example.com", "pass": NEW_PASSWORD}
        for attempt in range(5):
            body = api.post("/reset", {**data, "old_pass": f"guess-{attempt}"}).json()
            assert body["status"] == 1001
        response = api.post("/reset", {**data, "old_pass": PASSWORD})
        assert response.status_code == 429
        assert response.json() == {"status": 9429, "msg": "请求过于频繁"}
        assert int(response["Retry-After"]) > 0
        user.refresh_from_db()
        assert user.check_password(PASSWORD)


class TestGetInfo:
    def test_another_users_public_profile(self, api, user, make_user):
        bob = make_user(email="bob@example.com", username="bob", sex="男", location="北京")
        Friendship.objects.create(owner=bob, friend=user, group=Group.GOOD)
        response = api.get("/get_info", {"email": "BOB@example.com"})
        body = response.json()
        assert response.status_code == 200
        assert (body["status"], body["msg"]) == (6001, "成功")
        assert set(body["data"]) == PROFILE_KEYS | {"date_joined"}
        assert body["data"]["email"] == "bob@example.com"
        assert (body["data"]["username"], body["data"]["sex"]) == ("bob", "男")
        assert body["data"]["birthday"] is None and body["data"]["img"] is None
        assert datetime.fromisoformat(body["data"]["date_joined"]) == bob.date_joined

    def test_the_owner_also_gets_the_counts(self, api, user, make_user):
        for friend in (make_user(), make_user()):
            Friendship.objects.create(owner=user, friend=friend, group=Group.SPECIAL)
        Friendship.objects.create(owner=make_user(), friend=user, group=Group.OTHER)
        Post.objects.create(author=user, msg="hello", time=1)
        Post.objects.create(author=user, msg="hidden", time=2, is_hidden=True)
        body = api.get("/get_info", {"email": "alice@example.com"}).json()
        assert body["status"] == 6001
        assert set(body["data"]) == PROFILE_KEYS | {"date_joined", "friend_count", "post_count"}
        assert (body["data"]["friend_count"], body["data"]["post_count"]) == (2, 1)

    def test_the_avatar_url(self, api, user):
        api.post("/reset", {"email": "alice@example.com", "img": b64(images.png())})
        user.refresh_from_db()
        body = api.get("/get_info", {"email": "alice@example.com"}).json()
        assert body["data"]["img"] == f"http://testserver/media/{user.avatar.name}"

    @pytest.mark.parametrize(
        "query",
        [
            {},
            {"email": ""},
            {"email": "nobody@example.com"},
            {"email": "\x00"},
            {"email": "alice\x00@example.com"},
        ],
    )
    def test_missing_or_unknown(self, api, user, query):
        assert api.get("/get_info", query).json() == {"status": 6000, "msg": "缺少有效参数"}

    def test_deactivated(self, api, user, make_user):
        make_user(email="bob@example.com", is_active=False)
        body = api.get("/get_info", {"email": "bob@example.com"}).json()
        assert body == {"status": 6000, "msg": "缺少有效参数"}

    @pytest.mark.parametrize("direction", ["blocked_by_me", "blocked_me"])
    def test_blocked_either_way(self, api, user, make_user, direction):
        bob = make_user(email="bob@example.com")
        if direction == "blocked_by_me":
            Block.objects.create(blocker=user, blocked=bob)
        else:
            Block.objects.create(blocker=bob, blocked=user)
        body = api.get("/get_info", {"email": "bob@example.com"}).json()
        assert body == {"status": 6000, "msg": "缺少有效参数"}

    def test_without_a_token(self, anon, user):
        response = anon.get("/get_info", {"email": "alice@example.com"})
        assert response.status_code == 401
        assert response.json()["status"] == 9401

    def test_deactivated_caller(self, api, user):
        User.objects.filter(pk=user.pk).update(is_active=False)
        response = api.get("/get_info", {"email": "alice@example.com"})
        assert response.status_code == 403
        assert response.json()["status"] == 9402

    def test_post_is_not_allowed(self, api, user):
        response = api.post("/get_info", {"email": "alice@example.com"})
        assert response.status_code == 405
        assert response["Allow"] == "GET"


@pytest.fixture(params=[0, 100], ids=["empty", "100-rows"])
def busy_user(request, user):
    """alice with 0 or 100 friends in her list and 0 or 100 posts."""
    count = request.param
    others = User.objects.bulk_create(
        User(email=f"friend{number}@example.com") for number in range(count)
    )
    Friendship.objects.bulk_create(
        Friendship(owner=user, friend=friend, group=Group.NORMAL) for friend in others
    )
    Friendship.objects.bulk_create(
        Friendship(owner=friend, friend=user, group=Group.NORMAL) for friend in others
    )
    Post.objects.bulk_create(Post(author=user, msg=f"post {n}", time=n) for n in range(count))
    return user, count


class TestQueryCounts:
    def test_get_info(self, busy_user, api, make_user, django_assert_max_num_queries):
        user, count = busy_user
        make_user(email="bob@example.com")
        with django_assert_max_num_queries(5):
            body = api.get("/get_info", {"email": "alice@example.com"}).json()
        assert (body["data"]["friend_count"], body["data"]["post_count"]) == (count, count)
        with django_assert_max_num_queries(4):
            assert api.get("/get_info", {"email": "bob@example.com"}).json()["status"] == 6001

    def test_reset(self, busy_user, api, django_assert_max_num_queries):
        data = {
            "email": "alice@example.com",
            "name": "New",
            "pass": NEW_PASSWORD,
            "old_pass": PASSWORD,
            "img": b64(images.png()),
        }
        # 8, and the 5 statements of the database cache's add (the hour's first avatar change).
        with django_assert_max_num_queries(13):
            assert api.post("/reset", data).json()["status"] == 1002
