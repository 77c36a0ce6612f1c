"""The WebSocket /ws (API.md, "Real time", and the sockets of "Authentication"), driven through
socialsite.asgi with channels' WebsocketCommunicator on the in-memory channel layer. The HTTP
calls of a scenario go through Django's test client (on the test's thread, in the test database).
The whole path over a real socket to a live server is tests/test_websocket_live.py."""

import asyncio
import time

import pytest
from asgiref.sync import SyncToAsync, async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from accounts import consumers
from accounts.models import AuthToken
from socialsite import channel_layer, realtime
from socialsite.asgi import application
from tests.factories import NEW_PASSWORD, PASSWORD, ApiClient, sent_code

ALICE = "alice@example.com"
BAD_FRAME = {"type": "error", "status": 9400, "msg": "参数格式错误"}
# API.md: a revoked token's sockets close within 2 s.
REVOCATION_SECONDS = 2

# Every test here needs committed rows: the consumer reads tokens through database_sync_to_async,
# and revocations reach the sockets on commit.
pytestmark = pytest.mark.django_db(transaction=True)


def run(scenario):
    """Run the coroutine function `scenario` to its end (its HTTP calls: `await http(...)`)."""
    async_to_sync(scenario)()


def http(call, *args, **kwargs):
    return sync_to_async(call)(*args, **kwargs)


def socket(token=None, origin=None, host="127.0.0.1:5000", path="/ws"):
    headers = [(b"host", host.encode())]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def open_socket(token, **kwargs):
    """A socket authenticated with the header, its `ready` frame read."""
    communicator = socket(token, **kwargs)
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "ready"
    return communicator


async def closed_with(communicator, code, timeout=1):
    message = await communicator.receive_output(timeout)
    assert message == {"type": "websocket.close", "code": code}


async def stays_open(communicator):
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}


@pytest.fixture
def token(user):
    return AuthToken.objects.issue(user)


class TestAuthentication:
    def test_the_header_authenticates_and_ready_names_the_user(self, token):
        async def scenario():
            communicator = socket(token)
            assert await communicator.connect() == (True, None)
            assert await communicator.receive_json_from() == {"type": "ready", "email": ALICE}
            await stays_open(communicator)
            await communicator.disconnect()

        run(scenario)

    def test_the_first_frame_authenticates(self, token):
        async def scenario():
            communicator = socket()
            assert (await communicator.connect())[0]
            assert await communicator.receive_nothing(0.1)
            await communicator.send_json_to({"type": "auth", "token": token})
            assert await communicator.receive_json_from() == {"type": "ready", "email": ALICE}
            await stays_open(communicator)
            await communicator.disconnect()

        run(scenario)

    def test_the_token_is_touched(self, token, user):
        AuthToken.objects.filter(user=user).update(last_used_at=None)

        async def scenario():
            communicator = await open_socket(token)
            await communicator.disconnect()

        run(scenario)
        assert AuthToken.objects.get(user=user).last_used_at is not None

    @pytest.mark.parametrize("how", ["header", "frame"])
    @pytest.mark.parametrize("state", ["wrong", "expired", "revoked"])
    def test_an_unusable_token_closes_4401(self, token, user, how, state):
        key = token
        if state == "wrong":
            key = "not-a-token-" + "x" * 30
        elif state == "expired":
            AuthToken.objects.update(expires_at=timezone.now())
        else:
            AuthToken.objects.update(revoked_at=timezone.now())

        async def scenario():
            communicator = socket(key if how == "header" else None)
            assert (await communicator.connect())[0]
            if how == "frame":
                await communicator.send_json_to({"type": "auth", "token": key})
            await closed_with(communicator, 4401)

        run(scenario)

    @pytest.mark.parametrize("how", ["header", "frame"])
    def test_a_deactivated_user_closes_4402(self, token, user, how):
        user.is_active = False
        user.save()

        async def scenario():
            communicator = socket(token if how == "header" else None)
            assert (await communicator.connect())[0]
            if how == "frame":
                await communicator.send_json_to({"type": "auth", "token": token})
            await closed_with(communicator, 4402)

        run(scenario)

    @pytest.mark.parametrize(
        "frame",
        [
            '{"type": "ping"}',
            '{"type": "auth"}',
            '{"type": "auth", "token": 12345}',
            '{"type": "auth", "token": ""}',
            '"auth"',
            "not json",
        ],
    )
    def test_any_other_frame_before_authentication_closes_4401(self, token, frame):
        async def scenario():
            communicator = socket()
            assert (await communicator.connect())[0]
            await communicator.send_to(text_data=frame)
            await closed_with(communicator, 4401)

        run(scenario)

    def test_a_binary_frame_before_authentication_closes_4401(self, token):
        async def scenario():
            communicator = socket()
            assert (await communicator.connect())[0]
            await communicator.send_to(bytes_data=b'{"type": "auth"}')
            await closed_with(communicator, 4401)

        run(scenario)

    def test_no_frame_within_the_deadline_closes_4401(self, token, monkeypatch):
        monkeypatch.setattr(consumers, "AUTH_TIMEOUT_SECONDS", 0.3)

        async def scenario():
            communicator = socket()
            assert (await communicator.connect())[0]
            assert await communicator.receive_nothing(0.15)
            await closed_with(communicator, 4401, timeout=1)

        run(scenario)

    def test_a_revocation_between_the_check_and_the_join_is_not_missed(self, token, monkeypatch):
        """Its event went to a group the socket had not joined yet: the check after the join
        sees it."""
        from channels.layers import InMemoryChannelLayer

        group_add = InMemoryChannelLayer.group_add

        async def revoke_then_join(layer, group, channel):
            await sync_to_async(AuthToken.objects.update)(revoked_at=timezone.now())
            await group_add(layer, group, channel)

        monkeypatch.setattr(InMemoryChannelLayer, "group_add", revoke_then_join)

        async def scenario():
            communicator = socket(token)
            assert (await communicator.connect())[0]
            await closed_with(communicator, 4401)

        run(scenario)

    def test_the_deadline_is_ten_seconds(self):
        assert consumers.AUTH_TIMEOUT_SECONDS == 10

    def test_an_authenticated_socket_outlives_the_deadline(self, token, monkeypatch):
        monkeypatch.setattr(consumers, "AUTH_TIMEOUT_SECONDS", 0.2)

        async def scenario():
            communicator = socket()
            assert (await communicator.connect())[0]
            await communicator.send_json_to({"type": "auth", "token": token})
            assert (await communicator.receive_json_from())["type"] == "ready"
            assert await communicator.receive_nothing(0.4)
            await stays_open(communicator)
            await communicator.disconnect()

        run(scenario)


class TestFrames:
    @pytest.mark.parametrize(
        "frame",
        [
            '{"type": "pong"}',
            '{"type": "ping", "extra": 1}',
            '{"type": "auth", "token": "again"}',
            '{"type": "send_msg", "msg": "hi"}',
            "[1, 2]",
            "null",
            "not json",
            "   ",
        ],
    )
    def test_anything_but_ping_answers_error_and_the_socket_stays_open(self, token, frame):
        async def scenario():
            communicator = await open_socket(token)
            await communicator.send_to(text_data=frame)
            assert await communicator.receive_json_from() == BAD_FRAME
            await stays_open(communicator)
            await communicator.disconnect()

        run(scenario)

    def test_a_binary_frame_answers_error(self, token):
        async def scenario():
            communicator = await open_socket(token)
            await communicator.send_to(bytes_data=b'{"type": "ping"}')
            assert await communicator.receive_json_from() == BAD_FRAME
            await stays_open(communicator)
            await communicator.disconnect()

        run(scenario)

    def test_a_frame_of_16_kib_is_read_one_over_closes_1009(self, token):
        filler = '{"type": "x", "pad": "%s"}'
        at_limit = filler % ("a" * (16 * 1024 - len(filler % "")))
        assert len(at_limit.encode()) == 16 * 1024

        async def scenario():
            communicator = await open_socket(token)
            await communicator.send_to(text_data=at_limit)
            assert await communicator.receive_json_from() == BAD_FRAME
            await communicator.send_to(text_data=at_limit + " ")
            await closed_with(communicator, 1009)

        run(scenario)

    def test_the_limit_counts_bytes_not_characters(self, token):
        async def scenario():
            communicator = await open_socket(token)
            # 6,000 characters, 18,000 bytes in UTF-8.
            await communicator.send_to(text_data="好" * 6000)
            await closed_with(communicator, 1009)

        run(scenario)

    def test_a_binary_frame_over_16_kib_closes_1009(self, token):
        async def scenario():
            communicator = await open_socket(token)
            await communicator.send_to(bytes_data=b"x" * (16 * 1024 + 1))
            await closed_with(communicator, 1009)

        run(scenario)

    def test_ten_frames_a_second_are_answered_the_eleventh_closes_1008(self, token):
        async def scenario():
            communicator = await open_socket(token)
            for _ in range(10):
                await communicator.send_json_to({"type": "ping"})
            for _ in range(10):
                assert await communicator.receive_json_from() == {"type": "pong"}
            await communicator.send_json_to({"type": "ping"})
            await closed_with(communicator, 1008)

        run(scenario)

    def test_frames_spread_over_time_are_not_limited(self, token, monkeypatch):
        clock = [1000.0]
        monkeypatch.setattr(consumers.time, "monotonic", lambda: clock[0])

        async def scenario():
            communicator = await open_socket(token)
            for _ in range(30):
                clock[0] += 0.11
                await stays_open(communicator)
            await communicator.disconnect()

        run(scenario)


class TestOrigins:
    @pytest.mark.parametrize(
        ("origin", "host"),
        [
            (None, "127.0.0.1:5000"),
            ("http://127.0.0.1:5000", "127.0.0.1:5000"),
            ("https://chat.example.com", "chat.example.com"),
            ("https://app.example.com", "127.0.0.1:5000"),
        ],
    )
    def test_allowed(self, token, settings, origin, host):
        settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]

        async def scenario():
            communicator = await open_socket(token, origin=origin, host=host)
            await communicator.disconnect()

        run(scenario)

    @pytest.mark.parametrize(
        "origin",
        ["https://evil.example", "http://127.0.0.1:5001", "http://app.example.com", "null"],
    )
    def test_refused_before_the_handshake(self, token, settings, origin):
        settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]

        async def scenario():
            communicator = socket(token, origin=origin)
            connected, _ = await communicator.connect()
            assert not connected

        run(scenario)

    def test_another_path_is_refused(self, token):
        async def scenario():
            communicator = socket(token, path="/ws/other")
            connected, _ = await communicator.connect()
            assert not connected

        run(scenario)


class TestPushes:
    def test_a_push_reaches_every_socket_of_its_users_only(self, user, bob, carol, client_for):
        alice_key, alice_other_key = AuthToken.objects.issue(user), AuthToken.objects.issue(user)
        bob_key, carol_key = AuthToken.objects.issue(bob), AuthToken.objects.issue(carol)
        frame = {"type": "notice", "data": {"id": 1, "text": "你好"}}

        async def scenario():
            sockets = [await open_socket(key) for key in (alice_key, alice_other_key, bob_key)]
            carols = await open_socket(carol_key)
            await http(realtime.push, [user.pk, bob.pk, user.pk], frame)
            for communicator in sockets:
                assert await communicator.receive_json_from() == frame
                assert await communicator.receive_nothing(0.05)
            assert await carols.receive_nothing(0.1)
            for communicator in [*sockets, carols]:
                await communicator.disconnect()

        run(scenario)

    def test_a_push_is_forwarded_without_a_thread_crossing(self, token, user, monkeypatch):
        """channels' dispatch would close stale database connections in a thread first, for
        every frame; the consumer's own does not (its token checks close them themselves)."""
        frame = {"type": "notice", "data": {"id": 1}}
        crossings = []
        original = SyncToAsync.thread_handler

        def counted(self, *args, **kwargs):
            crossings.append(getattr(self.func, "__name__", repr(self.func)))
            return original(self, *args, **kwargs)

        async def scenario():
            communicator = await open_socket(token)
            monkeypatch.setattr(SyncToAsync, "thread_handler", counted)
            await http(realtime.send_now, [user.pk], frame)
            assert await communicator.receive_json_from() == frame
            monkeypatch.undo()
            await communicator.disconnect()

        run(scenario)
        assert crossings == ["send_now"]  # the test's own call

    def test_a_socket_rechecks_an_old_check_before_it_forwards(self, token, user, monkeypatch):
        """A revocation whose event was lost (the layer down at the time) still stops frames."""
        clock = [1000.0]
        monkeypatch.setattr(consumers.time, "monotonic", lambda: clock[0])
        frame = {"type": "notice", "data": {"id": 1}}

        async def scenario():
            communicator = await open_socket(token)
            clock[0] += 29
            await http(realtime.send_now, [user.pk], frame)
            assert await communicator.receive_json_from() == frame
            # Revoked without an event.
            await http(AuthToken.objects.filter(user=user).update, revoked_at=timezone.now())
            await http(realtime.send_now, [user.pk], frame)
            assert await communicator.receive_json_from() == frame  # checked 29 s ago
            clock[0] += 31
            await http(realtime.send_now, [user.pk], frame)
            await closed_with(communicator, 4401)

        run(scenario)

    def test_a_recheck_of_a_usable_token_forwards(self, token, user, monkeypatch):
        clock = [1000.0]
        monkeypatch.setattr(consumers.time, "monotonic", lambda: clock[0])
        frame = {"type": "notice", "data": {"id": 2}}

        async def scenario():
            communicator = await open_socket(token)
            clock[0] += 31
            await http(realtime.send_now, [user.pk], frame)
            assert await communicator.receive_json_from() == frame
            await communicator.disconnect()

        run(scenario)

    def test_the_watch_closes_a_silently_revoked_tokens_socket_without_a_push(
        self, token, user, bob, monkeypatch
    ):
        monkeypatch.setattr(consumers, "WATCH_SECONDS", 0.2)
        bobs = AuthToken.objects.issue(bob)

        async def scenario():
            alices, bobs_socket = await open_socket(token), await open_socket(bobs)
            # Revoked and deactivated without an event (a lost one, or no event at all).
            await http(AuthToken.objects.filter(user=user).update, revoked_at=timezone.now())
            await http(type(bob).objects.filter(pk=bob.pk).update, is_active=False)
            await closed_with(alices, 4401)
            await closed_with(bobs_socket, 4402)

        run(scenario)

    def test_the_watch_checks_a_workers_sockets_in_one_query_and_frames_wait_for_none(
        self, user, bob, carol, monkeypatch
    ):
        # Seconds scaled down: the sockets' own checks grow old, the watch's do not.
        monkeypatch.setattr(consumers, "RECHECK_AFTER_SECONDS", 1.0)
        monkeypatch.setattr(consumers, "WATCH_SECONDS", 0.2)
        monkeypatch.setattr(consumers, "WATCH_BATCH", 2)
        batches, single_checks = [], []
        batch_query = AuthToken.objects.filter

        def counted_filter(*args, **kwargs):
            if "pk__in" in kwargs:
                batches.append(sorted(kwargs["pk__in"]))
            return batch_query(*args, **kwargs)

        tokens = [AuthToken.objects.issue(person) for person in (user, bob, carol)]
        ids = sorted(AuthToken.objects.values_list("pk", flat=True))
        frame = {"type": "notice", "data": {"id": 3}}

        async def scenario():
            sockets = [await open_socket(key) for key in tokens]
            monkeypatch.setattr(AuthToken.objects, "filter", counted_filter)
            monkeypatch.setattr(
                consumers, "token_state", lambda **kwargs: single_checks.append(kwargs)
            )
            await asyncio.sleep(1.5)
            await http(realtime.send_now, [user.pk, bob.pk, carol.pk], frame)
            for communicator in sockets:
                assert await communicator.receive_json_from() == frame
                await communicator.disconnect()

        run(scenario)
        assert batches[:2] == [ids[:2], ids[2:]]  # one query per WATCH_BATCH tokens
        assert single_checks == []

    def test_a_push_in_a_rolled_back_transaction_is_not_sent(self, token, user):
        from django.db import transaction

        def push_and_roll_back():
            with pytest.raises(RuntimeError), transaction.atomic():
                realtime.push([user.pk], {"type": "notice", "data": {}})
                raise RuntimeError

        async def scenario():
            communicator = await open_socket(token)
            await http(push_and_roll_back)
            assert await communicator.receive_nothing(0.1)
            await communicator.disconnect()

        run(scenario)

    def test_a_broken_layer_connection_closes_the_socket_1013(self, token, user):
        """socialsite.channel_layer tells every channel of a broken connection (LOST): what was
        pushed meanwhile never arrived, so the socket closes and its client catches up."""

        async def scenario():
            communicator = await open_socket(token)
            layer = get_channel_layer()
            await layer.group_send(realtime.user_group(user.pk), channel_layer.LOST)
            await closed_with(communicator, consumers.TRY_AGAIN_LATER)

        run(scenario)


class TestRevocationClosesSockets:
    """Every path that revokes tokens closes their sockets within 2 s (API.md, "Authentication")."""

    def test_logout_closes_the_sockets_of_that_token_only(self, user):
        key, other_key = AuthToken.objects.issue(user), AuthToken.objects.issue(user)

        async def scenario():
            first, second = await open_socket(key), await open_socket(key)
            other = await open_socket(other_key)
            response = await http(ApiClient(key).post, "/logout")
            assert response.json()["status"] == 1012
            await closed_with(first, 4401, REVOCATION_SECONDS)
            await closed_with(second, 4401, REVOCATION_SECONDS)
            await stays_open(other)
            await other.disconnect()

        run(scenario)

    def test_logout_everywhere_closes_every_socket_of_the_user(self, user, bob):
        keys = [AuthToken.objects.issue(user) for _ in range(3)]
        bob_key = AuthToken.objects.issue(bob)

        async def scenario():
            sockets = [await open_socket(key) for key in keys]
            bobs = await open_socket(bob_key)
            response = await http(ApiClient(keys[0]).post, "/logout", {"all": "1"})
            assert response.json()["status"] == 1012
            for communicator in sockets:
                await closed_with(communicator, 4401, REVOCATION_SECONDS)
            await stays_open(bobs)
            await bobs.disconnect()

        run(scenario)

    def test_a_password_change_closes_the_other_tokens_sockets(self, user):
        key, other_key = AuthToken.objects.issue(user), AuthToken.objects.issue(user)

        async def scenario():
            own, other = await open_socket(key), await open_socket(other_key)
            response = await http(
                ApiClient(key).post,
                "/reset",
                {"email": ALICE, "pass": NEW_PASSWORD, "old_pass": PASSWORD},
            )
            assert response.json()["status"] == 1002
            await closed_with(other, 4401, REVOCATION_SECONDS)
            await stays_open(own)
            await own.disconnect()

        run(scenario)

    def test_a_password_reset_closes_every_socket(self, user, mailoutbox):
        key = AuthToken.objects.issue(user)
        anon = ApiClient()
        assert anon.post("/forget1", {"email": ALICE}).json()["status"] == 1013
        code = sent_code(mailoutbox, ALICE)

        async def scenario():
            communicator = await open_socket(key)
            response = await http(
                anon.post, "/forget2", {"email": ALICE, "value": code, "pass": NEW_PASSWORD}
            )
            body = response.json()
            assert body["status"] == 1014
            await closed_with(communicator, 4401, REVOCATION_SECONDS)
            fresh = await open_socket(body["data"]["token"])
            await fresh.disconnect()

        run(scenario)

    def test_the_twenty_first_login_closes_the_oldest_tokens_sockets(self, user):
        oldest = AuthToken.objects.issue(user)
        newer = [AuthToken.objects.issue(user) for _ in range(19)]

        async def scenario():
            first, last = await open_socket(oldest), await open_socket(newer[-1])
            response = await http(ApiClient().post, "/login", {"email": ALICE, "pass": PASSWORD})
            assert response.json()["status"] == 1002
            await closed_with(first, 4401, REVOCATION_SECONDS)
            await stays_open(last)
            await last.disconnect()

        run(scenario)

    def test_deactivation_in_the_admin_closes_4402(self, user, superuser_client):
        key = AuthToken.objects.issue(user)

        async def scenario():
            communicator = await open_socket(key)
            response = await http(
                superuser_client.post,
                "/admin/accounts/user/",
                {"action": "deactivate", "_selected_action": [user.pk]},
            )
            assert response.status_code == 302
            await closed_with(communicator, 4402, REVOCATION_SECONDS)

        run(scenario)

    def test_a_password_set_in_the_admin_closes_4401(self, user, superuser_client):
        key = AuthToken.objects.issue(user)

        async def scenario():
            communicator = await open_socket(key)
            response = await http(
                superuser_client.post,
                f"/admin/accounts/user/{user.pk}/password/",
                {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
            )
            assert response.status_code == 302
            await closed_with(communicator, 4401, REVOCATION_SECONDS)

        run(scenario)

    def test_the_token_admins_revoke_action_closes_4401(self, user, superuser_client):
        key = AuthToken.objects.issue(user)
        token = AuthToken.objects.get(user=user)

        async def scenario():
            communicator = await open_socket(key)
            response = await http(
                superuser_client.post,
                "/admin/accounts/authtoken/",
                {"action": "revoke", "_selected_action": [token.pk]},
            )
            assert response.status_code == 302
            await closed_with(communicator, 4401, REVOCATION_SECONDS)

        run(scenario)

    def test_deleting_the_account_closes_every_socket(self, user):
        keys = [AuthToken.objects.issue(user) for _ in range(2)]

        async def scenario():
            sockets = [await open_socket(key) for key in keys]
            response = await http(
                ApiClient(keys[0]).post, "/delete_account", {"email": ALICE, "pass": PASSWORD}
            )
            assert response.json()["status"] == 1015
            for communicator in sockets:
                await closed_with(communicator, 4401, REVOCATION_SECONDS)

        run(scenario)

    def test_deleting_users_in_the_admin_closes_their_sockets(self, user, superuser_client):
        key = AuthToken.objects.issue(user)

        async def scenario():
            communicator = await open_socket(key)
            response = await http(
                superuser_client.post,
                "/admin/accounts/user/",
                {"action": "delete_selected", "_selected_action": [user.pk], "post": "yes"},
            )
            assert response.status_code == 302
            await closed_with(communicator, 4401, REVOCATION_SECONDS)

        run(scenario)

    def test_no_frame_is_forwarded_after_the_revocation(self, user):
        key = AuthToken.objects.issue(user)
        frame = {"type": "notice", "data": {"id": 3}}

        async def scenario():
            communicator = await open_socket(key)
            await http(ApiClient(key).post, "/logout")
            await http(realtime.send_now, [user.pk], frame)
            await closed_with(communicator, 4401, REVOCATION_SECONDS)

        run(scenario)

    def test_a_revocation_of_other_tokens_keeps_the_socket(self, user):
        key, other_key = AuthToken.objects.issue(user), AuthToken.objects.issue(user)

        async def scenario():
            communicator = await open_socket(key)
            await http(ApiClient(other_key).post, "/logout")
            assert await communicator.receive_nothing(0.2)
            await stays_open(communicator)
            await communicator.disconnect()

        run(scenario)


def test_the_channel_layer_down_leaves_http_working(user, settings, caplog):
    """A push to a layer that cannot be reached is logged; the request's answer is unchanged."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "socialsite.channel_layer.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},  # nothing listens there
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        started = time.monotonic()
        key = AuthToken.objects.issue(user)
        assert ApiClient(key).post("/logout").json()["status"] == 1012
        response = ApiClient().get("/healthz")
        assert time.monotonic() - started < 2 * realtime.SEND_TIMEOUT_SECONDS + 1
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 200
    assert response.json() == {
        "status": 0,
        "msg": "ok",
        "db": "ok",
        "cache": "ok",
        "channels": "error",
    }
    assert "A revocation was not pushed" in caplog.text


def test_a_handshake_without_a_channel_layer_is_refused(token, settings, caplog):
    """No channel for the socket (the layer down): refused, not an exception out of the app
    (uvicorn's empty 500); on uvicorn, which has the denial extension, with 503 and 9503
    (tests/test_realtime_faults.py)."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "socialsite.channel_layer.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},  # nothing listens there
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()

    async def scenario():
        communicator = socket(token)
        connected, _ = await communicator.connect()
        assert not connected

    try:
        run(scenario)
    finally:
        channel_layers.backends.clear()
    assert "A WebSocket handshake was refused with 503" in caplog.text
