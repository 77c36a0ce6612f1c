"""Profiles: /reset and /get_info, and the user admin."""

import io
from datetime import datetime, timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts.models import AuthToken, User
from feed.models import Post
from friends.models import Block, Friendship, Group
from tests import images
from tests.factories import (
    NEW_PASSWORD,
    PASSWORD,
    PROFILE_KEYS,
    ApiClient,
    change_form,
    login,
    with_avatar,
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
        with django_assert_max_num_queries(8):
            assert api.post("/reset", data).json()["status"] == 1002


def assert_deactivated_for_good(response, user, api):
    """The admin saved, `user` is inactive, and their tokens stay revoked after reactivation."""
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert not AuthToken.objects.filter(user=user).usable().exists()
    User.objects.filter(pk=user.pk).update(is_active=True)
    assert api.get("/get_info", {"email": "alice@example.com"}).status_code == 401


class TestUserAdmin:
    def test_changelist_shows_thumbnails(self, superuser_client, user):
        with_avatar(user)
        response = superuser_client.get("/admin/accounts/user/")
        assert response.status_code == 200
        assert f'<img src="/media/{user.avatar.name}"' in response.content.decode()

    @pytest.mark.parametrize(
        "query",
        [
            {"q": "ALICE@example"},
            {"q": "alic"},
            {"q": "Alice"},
            {"is_active__exact": "1"},
            {"is_staff__exact": "0"},
            {"sex__exact": "女"},
            {"date_joined__gte": "today"},
        ],
    )
    def test_search_and_filters(self, superuser_client, user, make_user, query):
        User.objects.filter(pk=user.pk).update(sex="女")
        make_user(
            email="zed@example.com",
            username="zed",
            sex="男",
            is_active=False,
            is_staff=True,
            date_joined=timezone.now() - timedelta(days=400),
        )
        if query.get("date_joined__gte") == "today":
            query = {
                "date_joined__gte": str(
                    timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
                )
            }
        response = superuser_client.get("/admin/accounts/user/", query)
        assert response.status_code == 200
        assert "alice@example.com" in response.content.decode()
        assert "zed@example.com" not in response.content.decode()

    def test_change_page_shows_the_avatar_and_fieldsets(self, superuser_client, user):
        with_avatar(user)
        response = superuser_client.get(f"/admin/accounts/user/{user.pk}/change/")
        content = response.content.decode()
        assert response.status_code == 200
        assert f'<img src="/media/{user.avatar.name}"' in content
        for legend in ("登录", "资料", "权限"):
            assert legend in content
        assert 'href="../password/"' in content  # Django's own password change form

    def test_password_change_page(self, superuser_client, user, api):
        response = superuser_client.post(
            f"/admin/accounts/user/{user.pk}/password/",
            {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        assert response.status_code == 302
        user.refresh_from_db()
        assert user.check_password(NEW_PASSWORD)
        # Like a password change through /reset, it ends the logins made with the old password.
        assert api.get("/get_info", {"email": "alice@example.com"}).status_code == 401

    def test_deactivate_action_revokes_tokens(self, superuser_client, user, api):
        response = superuser_client.post(
            "/admin/accounts/user/", {"action": "deactivate", "_selected_action": [user.pk]}
        )
        assert_deactivated_for_good(response, user, api)

    def test_unticking_active_on_the_change_page_revokes_tokens(self, superuser_client, user, api):
        data = change_form(superuser_client, user)
        del data["is_active"]
        response = superuser_client.post(f"/admin/accounts/user/{user.pk}/change/", data)
        assert_deactivated_for_good(response, user, api)

    def test_other_edits_keep_the_tokens(self, superuser_client, user, api):
        response = superuser_client.post(
            f"/admin/accounts/user/{user.pk}/change/",
            change_form(superuser_client, user, like="围棋"),
        )
        assert response.status_code == 302
        assert api.get("/get_info", {"email": "alice@example.com"}).json()["status"] == 6001

    def test_staff_cannot_deactivate_themselves(self, superuser_client, superuser, user):
        me = superuser
        superuser_client.post(
            "/admin/accounts/user/",
            {"action": "deactivate", "_selected_action": [me.pk, user.pk]},
        )
        me.refresh_from_db()
        user.refresh_from_db()
        assert me.is_active and not user.is_active

    def test_reactivate_action(self, superuser_client, user):
        User.objects.filter(pk=user.pk).update(is_active=False)
        superuser_client.post(
            "/admin/accounts/user/", {"action": "reactivate", "_selected_action": [user.pk]}
        )
        user.refresh_from_db()
        assert user.is_active
        assert login("alice@example.com", PASSWORD)["status"] == 1002

    def test_edits_save_normally_and_keep_the_avatar(self, superuser_client, user):
        with_avatar(user)
        avatar = user.avatar.name
        response = superuser_client.post(
            f"/admin/accounts/user/{user.pk}/change/",
            change_form(superuser_client, user, like="围棋"),
        )
        assert response.status_code == 302
        user.refresh_from_db()
        assert (user.like, user.avatar.name) == ("围棋", avatar)
        assert default_storage.exists(avatar)

    def test_an_uploaded_avatar_goes_through_the_pipeline(
        self, superuser_client, user, django_capture_on_commit_callbacks
    ):
        with_avatar(user)
        old = user.avatar.name
        upload = SimpleUploadedFile(
            "../../photo.jpg", images.jpeg_with_metadata(), content_type="image/jpeg"
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = superuser_client.post(
                f"/admin/accounts/user/{user.pk}/change/",
                change_form(superuser_client, user, avatar=upload),
            )
        assert response.status_code == 302
        user.refresh_from_db()
        assert user.avatar.name.startswith("avatars/") and user.avatar.name.endswith(".webp")
        assert "photo" not in user.avatar.name
        with default_storage.open(user.avatar.name) as file:
            data = file.read()
        image = Image.open(io.BytesIO(data))
        assert (image.format, image.size) == ("WEBP", (40, 60))
        assert b"EXIF" not in data
        assert not default_storage.exists(old)

    def test_a_large_upload_is_fitted(self, superuser_client, user):
        upload = SimpleUploadedFile("big.png", images.png(size=(2000, 1000)))
        superuser_client.post(
            f"/admin/accounts/user/{user.pk}/change/",
            change_form(superuser_client, user, avatar=upload),
        )
        user.refresh_from_db()
        with default_storage.open(user.avatar.name) as file:
            assert Image.open(file).size == (512, 256)

    @pytest.mark.parametrize(
        "content", [b"not an image", images.png_bomb(20000, 20000), images.png()[:40]]
    )
    def test_a_bad_upload_is_a_form_error(self, superuser_client, user, content):
        with_avatar(user)
        avatar = user.avatar.name
        upload = SimpleUploadedFile("x.png", content, content_type="image/png")
        response = superuser_client.post(
            f"/admin/accounts/user/{user.pk}/change/",
            change_form(superuser_client, user, avatar=upload, like="changed"),
        )
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["avatar"]
        user.refresh_from_db()
        assert (user.avatar.name, user.like) == (avatar, "")

    def test_clearing_the_avatar_deletes_the_file(
        self, superuser_client, user, django_capture_on_commit_callbacks
    ):
        with_avatar(user)
        old = user.avatar.name
        with django_capture_on_commit_callbacks(execute=True):
            response = superuser_client.post(
                f"/admin/accounts/user/{user.pk}/change/",
                change_form(superuser_client, user, **{"avatar-clear": "on"}),
            )
        assert response.status_code == 302
        user.refresh_from_db()
        assert not user.avatar
        assert not default_storage.exists(old)
        assert (
            ApiClient(AuthToken.objects.issue(user))
            .get("/get_info", {"email": user.email})
            .json()["data"]["img"]
            is None
        )
