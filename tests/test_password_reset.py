"""A forgotten password (API.md, "POST /forget1" and "POST /forget2"), and logging out of every
device (/logout with all=1): the reset code is a code of its own kind, mailed after the answer so
that neither the answer nor its time tells whether an account exists, and the reset ends every
session and the login lock."""

import json
import re
import threading
import time
import urllib.parse
import urllib.request

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.core.signals import request_finished
from django.db import close_old_connections, connection
from django.test import RequestFactory
from django.utils import timezone

from accounts import services, views
from accounts.models import AuthToken, EmailCode, PasswordResetCode
from tests.factories import NEW_PASSWORD, PASSWORD, PROFILE_KEYS, ApiClient, body, sent_code

pytestmark = pytest.mark.django_db

ALICE = "alice@example.com"
SENT = {"status": 1013, "msg": "验证码已发送"}
WRONG_CODE = {"status": 1003, "msg": "验证码错误"}
MISSING = {"status": 1007, "msg": "缺乏必要参数"}
TOO_MANY = {"status": 9429, "msg": "请求过于频繁"}
NOT_LOGGED_IN = {"status": 9401, "msg": "请先登录"}


def forget1(client, email=ALICE):
    return client.post("/forget1", {"email": email})


def forget2(client, code, email=ALICE, password=NEW_PASSWORD):
    return client.post("/forget2", {"email": email, "value": code, "pass": password})


def reset_code(client, mailoutbox, email=ALICE):
    assert body(forget1(client, email)) == SENT
    return sent_code(mailoutbox, email)


def other_code(code):
    return f"{(int(code) + 1) % 10**6:06d}"


@pytest.fixture
def no_cooldown(monkeypatch):
    """A new code may be asked for at once (the minute between two is tested on its own)."""
    monkeypatch.setattr(services, "CODE_COOLDOWN_SECONDS", 0)


class TestForget1:
    def test_an_account_gets_a_six_digit_code_by_mail_stored_only_hashed(
        self, anon, user, mailoutbox
    ):
        assert body(forget1(anon, "  Alice@Example.COM ")) == SENT
        [message] = mailoutbox
        assert message.to == [ALICE]
        assert message.subject == "socialsite 密码重置验证码"
        code = re.search(r"验证码是：(\d{6})\n", message.body).group(1)
        assert "15 分钟内有效" in message.body
        stored = PasswordResetCode.objects.get(user=user)
        assert code not in stored.code_hash
        assert stored.code_hash == PasswordResetCode.hash_code(ALICE, code)
        assert timezone.now() + services.CODE_TTL - stored.expires_at < services.CODE_TTL / 15

    @pytest.mark.parametrize("email", ["nobody@example.com", "bob@example.com"])
    def test_no_account_or_a_deactivated_one_gets_the_same_answer_and_no_mail(
        self, anon, user, bob, mailoutbox, email
    ):
        bob.is_active = False
        bob.save()
        known, unknown = forget1(anon), forget1(anon, email)
        assert unknown.content == known.content
        assert unknown.status_code == known.status_code == 200
        assert sorted(unknown.headers) == sorted(known.headers)
        assert [message.to for message in mailoutbox] == [[ALICE]]
        assert list(PasswordResetCode.objects.values_list("user", flat=True)) == [user.pk]

    def test_what_differs_for_an_account_is_done_after_the_answer(self, user, mailoutbox):
        """The answer is built alike whether or not an account exists; the code is stored and
        mailed only once the server closes the answer it has sent (as WSGI and ASGI servers
        do), so its time to answer cannot tell the two apart."""
        answers = []
        for email in (ALICE, "nobody@example.com"):
            request = RequestFactory().post("/forget1", {"email": email}, REMOTE_ADDR="192.0.2.9")
            answers.append(views.forget1(request))
            assert mailoutbox == []
            assert not PasswordResetCode.objects.exists()
        assert answers[0].content == answers[1].content
        # as Django's test client closes a response: without closing the test's database
        request_finished.disconnect(close_old_connections)
        try:
            for answer in answers:
                answer.close()
        finally:
            request_finished.connect(close_old_connections)
        assert [message.to for message in mailoutbox] == [[ALICE]]
        assert PasswordResetCode.objects.filter(user=user).exists()

    def test_a_new_code_voids_the_older_one(self, anon, user, mailoutbox, no_cooldown):
        first = reset_code(anon, mailoutbox)
        second = reset_code(anon, mailoutbox)
        assert PasswordResetCode.objects.count() == 1
        if first != second:
            assert body(forget2(anon, first)) == WRONG_CODE
        assert body(forget2(anon, second))["status"] == 1014

    def test_one_code_a_minute_per_email(self, anon, user, mailoutbox):
        assert body(forget1(anon)) == SENT
        again = forget1(ApiClient(REMOTE_ADDR="192.0.2.77"))
        assert body(again, 429) == TOO_MANY
        assert 0 < int(again["Retry-After"]) <= 60
        assert len(mailoutbox) == 1

    def test_the_address_limit_is_shared_with_register1(self, anon, make_user, mailoutbox):
        half = services.CODES_PER_ADDRESS_PER_HOUR // 2
        for number in range(half):
            signup = anon.post("/register1", {"email": f"new{number}@example.com"})
            assert body(signup)["status"] == 1004
        for _ in range(half, services.CODES_PER_ADDRESS_PER_HOUR):
            assert body(forget1(anon, make_user().email)) == SENT
        refused = forget1(anon, make_user().email)
        assert body(refused, 429) == TOO_MANY
        assert len(mailoutbox) == services.CODES_PER_ADDRESS_PER_HOUR
        # another address is not limited
        assert body(forget1(ApiClient(REMOTE_ADDR="192.0.2.78"), make_user().email)) == SENT

    def test_the_limits_come_before_anything_is_looked_up(self, anon, user, mailoutbox):
        """An address that used up its codes learns nothing more, account or not."""
        for number in range(services.CODES_PER_ADDRESS_PER_HOUR):
            assert body(forget1(anon, f"nobody{number}@example.com")) == SENT
        assert body(forget1(anon), 429) == TOO_MANY
        assert mailoutbox == []

    def test_missing_email(self, anon):
        assert body(anon.post("/forget1", {})) == MISSING
        assert body(anon.post("/forget1", {"email": ""})) == MISSING

    @pytest.mark.parametrize("email", ["not-an-email", "a@b@example.com", "x" * 250 + "@a.io"])
    def test_a_malformed_email_is_9400_and_sends_nothing(self, anon, mailoutbox, email):
        answer = body(forget1(anon, email), 400)
        assert answer["status"] == 9400
        assert answer["errors"]["email"]
        assert mailoutbox == []

    def test_a_failed_mail_is_logged_and_the_code_dropped(self, anon, user, settings, caplog):
        settings.EMAIL_BACKEND = "tests.test_password_reset.BrokenMailBackend"
        assert body(forget1(anon)) == SENT
        assert not PasswordResetCode.objects.exists()
        assert "Could not send the password reset code email" in caplog.text
        # the minute's cooldown is given back: the owner may ask again at once
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert body(forget1(anon)) == SENT
        assert len(mail.outbox) == 1

    def test_get_is_405(self, anon):
        response = anon.get("/forget1", {"email": ALICE})
        assert body(response, 405)["status"] == 9405


class BrokenMailBackend(EmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("the mail server is down")


class SlowMailBackend(EmailBackend):
    DELAY = 2.0

    def send_messages(self, messages):
        time.sleep(self.DELAY)
        return super().send_messages(messages)


@pytest.mark.django_db(transaction=True)
def test_over_a_real_socket_the_answer_does_not_wait_for_the_mail(user, live_server, settings):
    """A mail server taking 2 s: the answer arrives well before, for an account as for none."""
    settings.EMAIL_BACKEND = "tests.test_password_reset.SlowMailBackend"
    mail.outbox = []
    for email in (ALICE, "nobody@example.com"):
        started = time.monotonic()
        data = urllib.parse.urlencode({"email": email}).encode()
        with urllib.request.urlopen(f"{live_server.url}/forget1", data, timeout=10) as answer:
            assert json.loads(answer.read()) == {"status": 1013, "msg": "验证码已发送"}
        assert time.monotonic() - started < SlowMailBackend.DELAY / 2
    deadline = time.monotonic() + 10
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [message.to for message in mail.outbox] == [[ALICE]]


class TestForget2:
    def test_the_code_sets_the_password_and_signs_in_with_a_fresh_token(
        self, anon, user, mailoutbox
    ):
        old_token = ApiClient(AuthToken.objects.issue(user))
        code = reset_code(anon, mailoutbox)
        response = forget2(anon, code)
        answer = body(response)
        assert (answer["status"], answer["msg"]) == (1014, "密码已重置")
        assert set(answer["data"]) == PROFILE_KEYS | {"token"}
        assert answer["data"]["email"] == ALICE
        assert response["Cache-Control"] == "no-store"
        user.refresh_from_db()
        assert user.check_password(NEW_PASSWORD)
        assert not user.check_password(PASSWORD)
        assert body(old_token.get("/get_info", {"email": ALICE}), 401) == NOT_LOGGED_IN
        fresh = ApiClient(answer["data"]["token"])
        assert body(fresh.get("/get_info", {"email": ALICE}))["status"] == 6001
        login = anon.post("/login", {"email": ALICE, "pass": NEW_PASSWORD})
        assert body(login)["status"] == 1002

    def test_the_code_works_once(self, anon, user, mailoutbox):
        code = reset_code(anon, mailoutbox)
        assert body(forget2(anon, code))["status"] == 1014
        assert body(forget2(anon, code, password="yet-another-passphrase")) == WRONG_CODE
        user.refresh_from_db()
        assert user.check_password(NEW_PASSWORD)

    def test_five_wrong_codes_void_it(self, anon, user, mailoutbox):
        code = reset_code(anon, mailoutbox)
        for tries in range(1, 5):
            assert body(forget2(anon, other_code(code))) == WRONG_CODE
            assert PasswordResetCode.objects.get().failed_attempts == tries
        assert body(forget2(anon, other_code(code))) == WRONG_CODE
        assert not PasswordResetCode.objects.exists()
        assert body(forget2(anon, code)) == WRONG_CODE
        user.refresh_from_db()
        assert user.check_password(PASSWORD)

    def test_an_expired_code_is_wrong(self, anon, user, mailoutbox):
        code = reset_code(anon, mailoutbox)
        PasswordResetCode.objects.update(expires_at=timezone.now())
        assert body(forget2(anon, code)) == WRONG_CODE

    def test_a_sign_up_code_never_resets_a_password_nor_the_reverse(self, anon, user, mailoutbox):
        EmailCode.objects.create(
            email=ALICE,
            code_hash=EmailCode.hash_code(ALICE, "123456"),
            expires_at=timezone.now() + services.CODE_TTL,
        )
        assert body(forget2(anon, "123456")) == WRONG_CODE
        code = reset_code(anon, mailoutbox)
        assert body(anon.post("/check_email", {"email": ALICE, "value": code})) == WRONG_CODE
        user.refresh_from_db()
        assert user.check_password(PASSWORD)

    @pytest.mark.parametrize("email", ["nobody@example.com", "not-an-email", "a\x00@example.com"])
    def test_no_account_or_a_malformed_email_is_a_wrong_code(self, anon, user, email):
        assert body(forget2(anon, "123456", email=email)) == WRONG_CODE

    def test_a_deactivated_account_cannot_reset(self, anon, user, mailoutbox):
        code = reset_code(anon, mailoutbox)
        user.is_active = False
        user.save()
        assert body(forget2(anon, code)) == WRONG_CODE
        user.refresh_from_db()
        assert user.check_password(PASSWORD)

    @pytest.mark.parametrize("missing", ["email", "value", "pass"])
    def test_missing_parameters(self, anon, user, missing):
        params = {"email": ALICE, "value": "123456", "pass": NEW_PASSWORD, missing: ""}
        assert body(anon.post("/forget2", params)) == MISSING

    @pytest.mark.parametrize("weak", ["short", "12345678901", "password123"])
    def test_a_weak_password_is_9400_and_the_code_stays_usable(self, anon, user, mailoutbox, weak):
        code = reset_code(anon, mailoutbox)
        answer = body(forget2(anon, code, password=weak), 400)
        assert answer["status"] == 9400
        assert answer["errors"]["pass"]
        stored = PasswordResetCode.objects.get()
        assert stored.failed_attempts == 0
        assert body(forget2(anon, code))["status"] == 1014

    def test_a_wrong_code_with_a_weak_password_is_a_wrong_code(self, anon, user, mailoutbox):
        code = reset_code(anon, mailoutbox)
        assert body(forget2(anon, other_code(code), password="short")) == WRONG_CODE

    def test_the_reset_ends_the_hourly_login_lock(self, anon, user, mailoutbox, settings):
        settings.LOGIN_CAPTCHA = "never"
        attacker = ApiClient(REMOTE_ADDR="198.51.100.1")
        failures = services.LOGIN_FAILURES_PER_HOUR
        for _ in range(failures):
            wrong = attacker.post("/login", {"email": ALICE, "pass": "wrong-password"})
            assert body(wrong)["status"] == 1001
        locked = anon.post("/login", {"email": ALICE, "pass": PASSWORD})
        assert body(locked, 429) == TOO_MANY
        assert body(forget2(anon, reset_code(anon, mailoutbox)))["status"] == 1014
        assert body(anon.post("/login", {"email": ALICE, "pass": NEW_PASSWORD}))["status"] == 1002

    def test_the_reset_ends_the_captcha_requirement(self, anon, user, mailoutbox):
        for _ in range(services.LOGIN_FAILURES_BEFORE_CAPTCHA):
            anon.post("/login", {"email": ALICE, "pass": "wrong-password"})
        needs_captcha = anon.post("/login", {"email": ALICE, "pass": PASSWORD})
        assert body(needs_captcha)["status"] == 1003
        assert body(forget2(anon, reset_code(anon, mailoutbox)))["status"] == 1014
        assert body(anon.post("/login", {"email": ALICE, "pass": NEW_PASSWORD}))["status"] == 1002

    def test_wrong_codes_from_one_address_are_limited(self, anon, make_user, mailoutbox):
        """Each code has 5 tries; an address guessing many accounts' codes is stopped too."""
        guesser = ApiClient(REMOTE_ADDR="198.51.100.2")
        victims = [make_user() for _ in range(5)]
        for victim in victims:
            reset_code(
                ApiClient(REMOTE_ADDR=f"192.0.2.{victim.pk % 200 + 1}"), mailoutbox, victim.email
            )
        guesses = 0
        for victim in victims:
            for _ in range(4):
                if guesses < services.WRONG_RESET_CODES_PER_ADDRESS:
                    assert body(forget2(guesser, "000000", email=victim.email)) == WRONG_CODE
                    guesses += 1
        refused = forget2(guesser, sent_code(mailoutbox, victims[-1].email), victims[-1].email)
        assert body(refused, 429) == TOO_MANY
        assert refused["Retry-After"] == str(services.WRONG_RESET_CODE_WINDOW_SECONDS)
        # the owner, from elsewhere, still resets
        owner = forget2(anon, sent_code(mailoutbox, victims[-1].email), victims[-1].email)
        assert body(owner)["status"] == 1014

    def test_get_is_405(self, anon):
        assert body(anon.get("/forget2"), 405)["status"] == 9405


@pytest.mark.django_db(transaction=True)
def test_two_racing_resets_with_one_code_reset_once(user, mailoutbox):
    code = reset_code(ApiClient(), mailoutbox)
    passwords = ["first-racing-passphrase", "second-racing-passphrase"]
    barrier = threading.Barrier(len(passwords))
    answers = []

    def run(password):
        try:
            barrier.wait(timeout=10)
            answers.append(forget2(ApiClient(), code, password=password).json()["status"])
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(password,)) for password in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [1003, 1014]
    user.refresh_from_db()
    assert sum(user.check_password(password) for password in passwords) == 1
    assert AuthToken.objects.filter(user=user).usable().count() == 1


class TestLogoutEverywhere:
    def test_all_1_revokes_every_token_of_the_user(self, user, bob):
        phone, laptop = (
            ApiClient(AuthToken.objects.issue(user)),
            ApiClient(AuthToken.objects.issue(user)),
        )
        bobs = ApiClient(AuthToken.objects.issue(bob))
        assert body(phone.post("/logout", {"all": "1"})) == {"status": 1012, "msg": "已退出登录"}
        for client in (phone, laptop):
            assert body(client.get("/get_info", {"email": ALICE}), 401) == NOT_LOGGED_IN
        assert body(bobs.get("/get_info", {"email": ALICE}))["status"] == 6001

    def test_all_1_in_a_json_body(self, user):
        phone, laptop = (ApiClient(AuthToken.objects.issue(user)) for _ in range(2))
        assert body(phone.post_json("/logout", {"all": "1"}))["status"] == 1012
        assert body(laptop.get("/get_info", {"email": ALICE}), 401) == NOT_LOGGED_IN

    @pytest.mark.parametrize("params", [{}, {"all": "0"}, {"all": ""}])
    def test_otherwise_only_the_token_used(self, user, params):
        phone, laptop = (ApiClient(AuthToken.objects.issue(user)) for _ in range(2))
        assert body(phone.post("/logout", params))["status"] == 1012
        assert body(phone.get("/get_info", {"email": ALICE}), 401) == NOT_LOGGED_IN
        assert body(laptop.get("/get_info", {"email": ALICE}))["status"] == 6001

    @pytest.mark.parametrize("value", ["yes", "2", "true"])
    def test_a_malformed_all_is_9400_and_revokes_nothing(self, user, value):
        phone = ApiClient(AuthToken.objects.issue(user))
        answer = body(phone.post("/logout", {"all": value}), 400)
        assert answer["status"] == 9400
        assert answer["errors"]["all"]
        assert body(phone.get("/get_info", {"email": ALICE}))["status"] == 6001
