"""Deleting an account (issue 13): POST /delete_account, the admin's deletion of users through the
same service (accounts.services.delete_users), and the reports that outlive both their reporter
and their target."""

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor
from django.db.models.signals import post_delete
from django.urls import reverse

from accounts import extensions
from accounts import services as accounts_services
from accounts.models import AuthToken, PasswordResetCode, User
from accounts.queries import token_named_by
from chat.models import Conversation, Message, MessageReport, Participant
from feed.models import Comment, Like, Post, Report
from friends.models import Block, Friendship, SearchInterest, UserInterest
from tests import media
from tests.factories import (
    FORBIDDEN,
    PASSWORD,
    befriend,
    block,
    body,
    interest_tags,
    make_comments,
    make_messages,
    make_post,
    register,
    with_avatar,
)

pytestmark = [pytest.mark.django_db, pytest.mark.media_storage]

ALICE = "alice@example.com"
DELETED = {"status": 1015, "msg": "账号已注销"}
WRONG_PASSWORD = {"status": 1001, "msg": "密码错误"}
MISSING = {"status": 1007, "msg": "缺乏必要参数"}
TOO_MANY = {"status": 9429, "msg": "请求过于频繁"}
NOT_LOGGED_IN = {"status": 9401, "msg": "请先登录"}


def chat(peer, sender=None):
    """The email and femail of a chat call from `sender` (alice by default) to `peer`."""
    return {"email": sender.email if sender else ALICE, "femail": peer.email}


def delete_account(client, email=ALICE, password=PASSWORD):
    return client.post("/delete_account", {"email": email, "pass": password})


def rows_naming(user_pk):
    """{(model label, field name): rows} of every foreign key to User, in every table (the
    auto-created many-to-many tables too), whose value is `user_pk`: a table added later is
    covered without this test changing."""
    found = {}
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.get_fields():
            if isinstance(field, models.ForeignKey) and field.related_model is User:
                found[(model._meta.label, field.name)] = model._default_manager.filter(
                    **{field.attname: user_pk}
                ).count()
    return found


def rows_mentioning(text):
    """(model label, field name) of every text column, in every table, holding `text`."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.get_fields():
            if isinstance(field, (models.CharField, models.TextField)) and not field.choices:
                lookup = {f"{field.attname}__icontains": text}
                if model._default_manager.filter(**lookup).exists():
                    found.append((model._meta.label, field.name))
    return found


@pytest.fixture
def alice(user):
    """alice with a whole profile, interest tags and an avatar file."""
    User.objects.filter(pk=user.pk).update(
        introduction="我是 Alice，喜欢打球", location="上海", flike="运动"
    )
    user.refresh_from_db()
    user.like = "篮球, 音乐"
    user.save()  # the interest tags follow `like`
    return with_avatar(user)


class TestTheWholeAccountGoes:
    """alice with everything a user can have, deleted through the API."""

    @pytest.fixture
    def world(self, alice, bob, carol, make_user, client_for):
        """alice's data and the others' around it; returns what the checks need."""
        dave, erin = make_user(email="dave@example.com"), make_user(email="erin@example.com")
        bob = with_avatar(bob)
        alice_api, bob_api, carol_api = client_for(alice), client_for(bob), client_for(carol)
        # alice's posts, bob's comments on them; bob's post with comments by alice, bob, carol
        own_posts = [make_post(alice, time=1_000, msg="alice 的动态"), make_post(alice, time=2_000)]
        make_comments(own_posts[0], bob, 2)
        bob_post = make_post(bob, time=3_000, msg="bob 的动态")
        for commenter, client in ((alice, alice_api), (bob, bob_api), (carol, carol_api)):
            comment = {"email": commenter.email, "id": bob_post.pk, "comment": "评论"}
            assert client.post("/comment", comment).json()["status"] == 3007
        carol_post = make_post(carol, time=4_000)
        make_comments(carol_post, bob, 1)
        # likes: hers of bob's post, carol's of it too, bob's of hers
        for client, email, post in (
            (alice_api, ALICE, bob_post),
            (carol_api, carol.email, bob_post),
            (bob_api, bob.email, own_posts[0]),
        ):
            assert client.post("/like", {"email": email, "id": post.pk}).json()["status"] == 3008
        # friendships both ways with bob and carol, and bob's with carol
        for one, other in (
            (alice, bob),
            (bob, alice),
            (alice, carol),
            (carol, alice),
            (bob, carol),
        ):
            befriend(one, other)
        # blocks both ways
        block(alice, dave)
        block(erin, alice)
        block(bob, dave)
        # reports by and about alice (and about her post), filed through the API
        filed = [
            (alice_api, {"email": ALICE, "femail": bob.email}),
            (alice_api, {"email": ALICE, "post": bob_post.pk}),
            (bob_api, {"email": bob.email, "femail": ALICE}),
            (carol_api, {"email": carol.email, "post": own_posts[0].pk}),
        ]
        for client, target in filed:
            response = client.post("/report", {**target, "reason": "不当内容"})
            assert response.json()["status"] == 7001
        # conversations with bob (messages both ways, read, one reported by bob) and carol,
        # and bob's with carol
        assert (
            body(alice_api.post("/send_msg", {**chat(bob), "msg": "alice 的私信"}))["status"]
            == 8001
        )
        answer = bob_api.post("/send_msg", {**chat(alice, bob), "msg": "回复"}).json()
        assert answer["status"] == 8001
        read = {**chat(bob), "id": answer["data"]["id"]}
        assert alice_api.post("/read_msgs", read).json()["status"] == 8006
        make_messages(carol, alice, 2)
        make_messages(bob, carol, 2)
        mine = Message.objects.get(text="alice 的私信")
        response = bob_api.post(
            "/report", {"email": bob.email, "message": mine.pk, "reason": "不当内容"}
        )
        assert response.json()["status"] == 7001
        # a pending password-reset code
        assert alice_api.post("/forget1", {"email": ALICE}).json()["status"] == 1013
        assert PasswordResetCode.objects.filter(user=alice).exists()
        # search interests, remembered by /get_data
        for client, email in ((alice_api, ALICE), (bob_api, bob.email)):
            search = {"email": email, "start": 0, "limit": 10, "like": "篮球"}
            assert client.get("/get_data", search).json()["status"] == 1008
        return {
            "alice_api": alice_api,
            "bob_api": bob_api,
            "bob_post": bob_post,
            "carol_post": carol_post,
            "own_posts": own_posts,
            "bob": bob,
        }

    def test_nothing_of_hers_is_left_and_the_others_keep_theirs(
        self, world, alice, bob, carol, django_capture_on_commit_callbacks
    ):
        before = rows_naming(alice.pk)
        # she is in each of these tables before: the deletion below has something to delete
        for table in [
            ("accounts.AuthToken", "user"),
            ("feed.Post", "author"),
            ("feed.Comment", "author"),
            ("feed.Like", "user"),
            ("feed.Report", "reporter"),
            ("feed.Report", "user"),
            ("friends.Friendship", "owner"),
            ("friends.Friendship", "friend"),
            ("friends.Block", "blocker"),
            ("friends.Block", "blocked"),
            ("friends.UserInterest", "user"),
            ("friends.SearchInterest", "user"),
            ("chat.Conversation", "user_a"),
            ("chat.Message", "sender"),
            ("chat.Participant", "user"),
            ("chat.Participant", "peer"),
            ("chat.MessageReport", "sender"),
        ]:
            assert before[table] > 0, table
        avatar = alice.avatar.name
        assert default_storage.exists(avatar)
        bob_avatar = world["bob"].avatar.name
        old_token = world["alice_api"]

        with django_capture_on_commit_callbacks(execute=True):
            response = delete_account(world["alice_api"])
        assert body(response) == DELETED

        # nothing of hers: no row names her, no text holds her email, no file of hers
        assert not User.objects.filter(pk=alice.pk).exists()
        left = {table: count for table, count in rows_naming(alice.pk).items() if count}
        assert left == {}
        assert rows_mentioning(ALICE) == []
        assert not default_storage.exists(avatar)
        assert media.stored_names("avatars") == [bob_avatar.removeprefix("avatars/")]
        assert body(old_token.get("/get_info", {"email": bob.email}), 401) == NOT_LOGGED_IN

        # the others keep theirs
        bob_post, carol_post = world["bob_post"], world["carol_post"]
        assert set(Post.objects.values_list("pk", flat=True)) == {bob_post.pk, carol_post.pk}
        assert sorted(
            Comment.objects.filter(post=bob_post).values_list("author__email", flat=True)
        ) == [
            bob.email,
            carol.email,
        ]
        assert Comment.objects.filter(post=carol_post, author=bob).count() == 1
        assert list(Friendship.objects.values_list("owner__email", "friend__email")) == [
            (bob.email, carol.email)
        ]
        assert list(Block.objects.values_list("blocker__email", "blocked__email")) == [
            (bob.email, "dave@example.com")
        ]
        assert SearchInterest.objects.filter(user=bob).count() == 1
        assert interest_tags(bob) == ["篮球"]
        assert default_storage.exists(bob_avatar)
        bob_sees = world["bob_api"].get("/getPost", {"email": bob.email}).json()
        assert [post["id"] for post in bob_sees["data"]] == [bob_post.pk]
        assert bob_sees["data"][0]["like_count"] == 1  # carol's
        assert list(Like.objects.values_list("user", "post")) == [(carol.pk, bob_post.pk)]
        # her conversations went for both sides; bob's with carol stays
        assert list(Message.objects.values_list("sender__email", flat=True)) == [bob.email] * 2
        assert Conversation.objects.count() == 1 and Participant.objects.count() == 2
        bob_chats = world["bob_api"].get("/get_chats", {"email": bob.email}).json()["data"]
        assert [chat["peer"]["email"] for chat in bob_chats] == [carol.email]
        # bob's report of her message stays, without her, with its copy
        (message_report,) = MessageReport.objects.all()
        assert (message_report.reporter, message_report.sender) == (bob, None)
        assert message_report.message is None
        assert message_report.reported_text == "alice 的私信"
        assert [line["msg"] for line in message_report.context] == ["alice 的私信", "回复"]

        # the reports stay queued: hers without a reporter, those about her with their copy
        filed = Report.objects.filter(reporter__isnull=True).order_by("pk")
        assert [(r.user, r.post, r.state, r.reason) for r in filed] == [
            (bob, None, Report.State.OPEN, "不当内容"),
            (None, bob_post, Report.State.OPEN, "不当内容"),
        ]
        about_her = Report.objects.filter(reporter__isnull=False).order_by("pk")
        assert [(r.reporter, r.user, r.post, r.state) for r in about_her] == [
            (bob, None, None, Report.State.OPEN),
            (carol, None, None, Report.State.OPEN),
        ]
        profile_copy, post_copy = (r.reported_text for r in about_her)
        assert profile_copy == (
            "用户名：alice\n姓名：Alice\n自我简介：我是 Alice，喜欢打球\n爱好：篮球, 音乐\n"
            "交友方向：运动\n所在地：上海"
        )
        assert post_copy == "alice 的动态"

    def test_the_email_can_register_again(self, world, anon, mailoutbox):
        assert body(delete_account(world["alice_api"])) == DELETED
        response = register(anon, mailoutbox, email=ALICE, password="another-long-passphrase")
        assert body(response)["status"] == 1005
        new = User.objects.get(email=ALICE)
        assert new.username == ""
        assert not Friendship.objects.filter(friend=new).exists()
        assert not Report.objects.filter(user=new).exists()


class TestTokens:
    def test_every_token_of_hers_is_gone_and_answers_9401(self, alice, client_for, bob):
        first, second = client_for(alice), client_for(alice)
        assert body(delete_account(first)) == DELETED
        assert not AuthToken.objects.filter(user_id=alice.pk).exists()
        for client in (first, second):
            assert body(client.get("/get_info", {"email": bob.email}), 401) == NOT_LOGGED_IN
            assert body(client.post("/logout"), 401) == NOT_LOGGED_IN
            assert body(delete_account(client), 401) == NOT_LOGGED_IN

    def test_others_keep_their_tokens(self, alice, api, client_for, bob):
        bob_api = client_for(bob)
        assert body(delete_account(api)) == DELETED
        assert body(bob_api.get("/get_info", {"email": bob.email}))["status"] == 6001


class TestRefusals:
    """Each refusal deletes nothing: alice, her avatar and her token stay."""

    @pytest.fixture(autouse=True)
    def still_there(self, alice, api):
        avatar = alice.avatar.name
        yield
        assert User.objects.filter(pk=alice.pk).exists()
        assert default_storage.exists(avatar)

    def test_wrong_password_is_1001(self, api):
        assert body(delete_account(api, password="wrong-password")) == WRONG_PASSWORD
        assert body(api.get("/get_info", {"email": ALICE}))["status"] == 6001

    @pytest.mark.parametrize(
        "data",
        [
            {},
            {"email": ALICE},
            {"pass": PASSWORD},
            {"email": ALICE, "pass": ""},
            {"email": "", "pass": PASSWORD},
        ],
    )
    def test_a_missing_parameter_is_1007(self, api, data):
        assert body(api.post("/delete_account", data)) == MISSING

    def test_json_body(self, api):
        response = api.post_json("/delete_account", {"email": ALICE})
        assert body(response) == MISSING

    @pytest.mark.parametrize("email", ["bob@example.com", "nobody@example.com"])
    def test_an_email_not_the_callers_is_9403(self, api, bob, email):
        assert body(delete_account(api, email=email, password=PASSWORD), 403) == FORBIDDEN
        assert User.objects.filter(pk=bob.pk).exists()

    def test_9403_comes_before_the_password_check(self, api, bob):
        # bob's own password, on alice's token: refused, and not counted as a wrong password
        for _ in range(6):
            assert body(delete_account(api, email=bob.email), 403) == FORBIDDEN
        assert body(delete_account(api, password="wrong-password")) == WRONG_PASSWORD

    def test_the_email_is_compared_case_insensitively(self, api):
        assert body(delete_account(api, email="ALICE@Example.com", password="wrong")) == (
            WRONG_PASSWORD
        )

    def test_without_a_token_is_9401_and_get_is_9405(self, anon, api):
        assert body(delete_account(anon), 401) == NOT_LOGGED_IN
        response = api.get("/delete_account", {"email": ALICE, "pass": PASSWORD})
        assert body(response, 405)["status"] == 9405
        assert response["Allow"] == "POST"


class TestGuessingThePasswordIsLimited:
    def assert_too_many(self, response):
        assert body(response, 429) == TOO_MANY
        assert int(response["Retry-After"]) > 0

    def test_five_wrong_passwords_then_429_the_right_one_included(self, alice, api):
        for attempt in range(5):
            assert body(delete_account(api, password=f"guess-{attempt}")) == WRONG_PASSWORD
        self.assert_too_many(delete_account(api))
        assert User.objects.filter(pk=alice.pk).exists()

    def test_429_comes_first(self, alice, api, bob):
        for attempt in range(5):
            delete_account(api, password=f"guess-{attempt}")
        self.assert_too_many(api.post("/delete_account", {}))
        self.assert_too_many(delete_account(api, email=bob.email))

    def test_four_wrong_passwords_still_let_the_right_one_through(self, alice, api):
        for attempt in range(4):
            assert body(delete_account(api, password=f"guess-{attempt}")) == WRONG_PASSWORD
        assert body(delete_account(api)) == DELETED

    def test_counted_together_with_resets_old_pass(self, alice, api):
        change = {"email": ALICE, "pass": "a-brand-new-passphrase"}
        for attempt in range(3):
            response = api.post("/reset", {**change, "old_pass": f"guess-{attempt}"})
            assert body(response) == WRONG_PASSWORD
        for attempt in range(2):
            assert body(delete_account(api, password=f"guess-{attempt}")) == WRONG_PASSWORD
        self.assert_too_many(delete_account(api))
        # and the other way round: /reset is refused as well
        self.assert_too_many(api.post("/reset", {**change, "old_pass": PASSWORD}))
        alice.refresh_from_db()
        assert alice.check_password(PASSWORD)

    def test_the_count_is_per_user(self, alice, api, bob, client_for):
        for attempt in range(5):
            delete_account(api, password=f"guess-{attempt}")
        assert body(delete_account(client_for(bob), email=bob.email)) == DELETED


class InjectedFailure(Exception):
    pass


def fail(*args, **kwargs):
    raise InjectedFailure("injected midway")


@pytest.fixture
def failing_user_delete():
    """A failure inside the deletion's transaction, after the user's rows are deleted."""
    post_delete.connect(fail, sender=User, dispatch_uid="test-delete-fails-midway")
    yield
    post_delete.disconnect(sender=User, dispatch_uid="test-delete-fails-midway")


@pytest.fixture
def named_files(monkeypatch):
    """A file of a higher app's for each user, named through extensions.account_files (as
    feed's post images will be): {user pk: file name}; and the users each call was given."""
    files, calls = {}, []

    def account_files(users):
        calls.append(set(users.values_list("pk", flat=True)))
        return [
            (default_storage, files[pk]) for pk in users.values_list("pk", flat=True) if pk in files
        ]

    monkeypatch.setattr(extensions, "account_files", [account_files])

    def add(user):
        files[user.pk] = default_storage.save(f"posts/{user.pk}.bin", ContentFile(b"image"))
        return files[user.pk]

    return add, calls


class TestFiles:
    def test_the_files_that_higher_apps_name_go_after_commit(
        self, alice, api, bob, named_files, django_capture_on_commit_callbacks
    ):
        add, calls = named_files
        hers, bobs = add(alice), add(bob)
        with django_capture_on_commit_callbacks() as callbacks:
            assert body(delete_account(api)) == DELETED
            # nothing deleted before the commit
            assert default_storage.exists(hers) and default_storage.exists(alice.avatar.name)
        assert calls == [{alice.pk}]
        for callback in callbacks:
            callback()
        assert not default_storage.exists(hers)
        assert not default_storage.exists(alice.avatar.name)
        assert default_storage.exists(bobs)

    def test_a_failing_delete_deletes_no_row_and_no_file(
        self, alice, api, bob, named_files, failing_user_delete, django_capture_on_commit_callbacks
    ):
        add, _ = named_files
        hers = add(alice)
        post = make_post(alice)
        befriend(alice, bob)
        Report.objects.create(reporter=bob, post=post, reason="spam")
        api.raise_request_exception = False
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = delete_account(api)
        assert body(response, 500) == {"status": 9500, "msg": "服务器内部错误"}
        assert callbacks == []
        assert User.objects.filter(pk=alice.pk).exists()
        assert Post.objects.filter(author=alice).exists()
        assert Friendship.objects.filter(owner=alice).exists()
        assert token_named_by(api.token).is_usable()
        assert Report.objects.get().post == post
        assert default_storage.exists(hers)
        assert default_storage.exists(alice.avatar.name)


class TestTheAdmin:
    """A superuser deletes users in the admin through the same service; moderators cannot."""

    def delete_page(self, user):
        return reverse("admin:accounts_user_delete", args=[user.pk])

    def test_the_confirmation_lists_what_goes_with_the_user(self, superuser_client, alice, bob):
        make_post(alice, msg="要删除的动态")
        befriend(alice, bob)
        befriend(bob, alice)
        block(alice, bob)
        response = superuser_client.get(self.delete_page(alice))
        assert response.status_code == 200
        counts = dict(response.context["model_count"])
        assert counts["用户"] == 1
        assert counts["动态"] == 1
        assert counts["好友关系"] == 2
        assert counts["拉黑"] == 1
        content = response.content.decode()
        assert "要删除的动态" in content
        assert f"{alice} → {bob}" in content and f"{bob} → {alice}" in content
        assert User.objects.filter(pk=alice.pk).exists()  # a GET deletes nothing

    def test_confirming_deletes_the_user_and_the_files_after_commit(
        self, superuser_client, alice, bob, named_files, django_capture_on_commit_callbacks
    ):
        add, calls = named_files
        hers = add(alice)
        report = Report.objects.create(reporter=alice, user=bob, reason="spam")
        with django_capture_on_commit_callbacks(execute=True):
            response = superuser_client.post(self.delete_page(alice), {"post": "yes"})
        assert response.status_code == 302
        assert not User.objects.filter(pk=alice.pk).exists()
        assert calls == [{alice.pk}]
        assert not default_storage.exists(hers)
        assert not default_storage.exists(alice.avatar.name)
        report.refresh_from_db()
        assert (report.reporter, report.user) == (None, bob)

    def test_the_delete_action_deletes_every_selected_user_through_the_service(
        self, superuser_client, alice, bob, carol, named_files, django_capture_on_commit_callbacks
    ):
        add, calls = named_files
        hers, bobs, carols = add(alice), add(bob), add(carol)
        bob = with_avatar(bob)
        selected = {"action": "delete_selected", "_selected_action": [alice.pk, bob.pk]}
        changelist = reverse("admin:accounts_user_changelist")
        confirm = superuser_client.post(changelist, selected)
        assert confirm.status_code == 200  # Django's confirmation page first
        assert User.objects.filter(pk=alice.pk).exists()
        with django_capture_on_commit_callbacks(execute=True):
            response = superuser_client.post(changelist, {**selected, "post": "yes"})
        assert response.status_code == 302
        assert set(User.objects.values_list("email", flat=True)) == {
            carol.email,
            "root@example.com",
        }
        assert calls == [{alice.pk, bob.pk}]
        for name in (hers, bobs, alice.avatar.name, bob.avatar.name):
            assert not default_storage.exists(name)
        assert default_storage.exists(carols)

    def test_a_failing_admin_delete_keeps_the_user_and_the_files(
        self,
        superuser_client,
        alice,
        named_files,
        failing_user_delete,
        django_capture_on_commit_callbacks,
    ):
        add, _ = named_files
        hers = add(alice)
        superuser_client.raise_request_exception = False
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = superuser_client.post(self.delete_page(alice), {"post": "yes"})
        assert response.status_code == 500
        assert callbacks == []
        assert User.objects.filter(pk=alice.pk).exists()
        assert default_storage.exists(hers)
        assert default_storage.exists(alice.avatar.name)

    def test_a_moderator_cannot_delete_users(self, client, moderator, alice):
        client.force_login(moderator)
        assert client.get(self.delete_page(alice)).status_code == 403
        assert client.post(self.delete_page(alice), {"post": "yes"}).status_code == 403
        changelist = reverse("admin:accounts_user_changelist")
        actions = dict(client.get(changelist).context["action_form"].fields["action"].choices)
        assert "delete_selected" not in actions
        response = client.post(
            changelist, {"action": "delete_selected", "_selected_action": [alice.pk], "post": "yes"}
        )
        assert response.status_code == 302  # back to the list: "no action selected"
        assert User.objects.filter(pk=alice.pk).exists()


def test_delete_users_returns_how_many_it_deleted(alice, bob, carol):
    deleted = accounts_services.delete_users(User.objects.filter(pk__in=[alice.pk, bob.pk]))
    assert deleted == 2
    assert list(User.objects.all()) == [carol]
    assert accounts_services.delete_users(User.objects.filter(pk=alice.pk)) == 0
    assert UserInterest.objects.filter(user_id=alice.pk).count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_migration_copies_the_text_of_reports_filed_before():
    """0007 fills `reported_text` of the existing reports from their post or user."""
    before = [("feed", "0006_reports_outlive_accounts")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    old_user, old_post = old.get_model("accounts", "User"), old.get_model("feed", "Post")
    reporter = old_user.objects.create(email="reporter@example.com")
    author = old_user.objects.create(
        email="author@example.com", username="作者", introduction="你好", location="北京"
    )
    quiet = old_user.objects.create(email="quiet@example.com")
    post = old_post.objects.create(author=author, msg="旧的动态", time=1)
    old_report = old.get_model("feed", "Report")
    for target in ({"post": post}, {"user": author}, {"user": quiet}):
        old_report.objects.create(reporter=reporter, reason="x", **target)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # back to the latest state
    copies = list(Report.objects.order_by("pk").values_list("reported_text", flat=True))
    assert copies == ["旧的动态", "用户名：作者\n自我简介：你好\n所在地：北京", ""]
