"""Reports of messages (API.md, /report's `message`) and their moderation in the admin: the
report keeps a copy of the message and its context, the report's page shows them, moderators
hide a message out of every answer, and no admin page lists private messages."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import User
from chat.models import Message, MessageReport, Participant
from feed.models import Report
from tests.factories import PASSWORD, block, body, make_friends, make_messages, make_post

pytestmark = pytest.mark.django_db

ALICE, BOB = "alice@example.com", "bob@example.com"
REPORTED = {"status": 7001, "msg": "举报成功"}
NO_TARGET = {"status": 7000, "msg": "举报对象不存在"}


@pytest.fixture
def friends(user, bob):
    make_friends(user, bob)


def report(client, message_id, email=ALICE, reason="骚扰"):
    return client.post("/report", {"email": email, "message": message_id, "reason": reason})


class TestReport:
    def test_a_received_message_with_its_context(self, api, user, bob, friends):
        start = timezone.now() - timedelta(minutes=10)
        earlier = make_messages(bob, user, 25, start=start)
        replies = make_messages(user, bob, 30, start=start + timedelta(minutes=1))
        reported = earlier[-1]
        assert body(report(api, reported.pk)) == REPORTED
        filed = MessageReport.objects.get()
        assert (filed.reporter, filed.sender, filed.message) == (user, bob, reported)
        assert (filed.reported_text, filed.reason) == ("message 24", "骚扰")
        assert filed.state == MessageReport.State.OPEN
        assert [line["id"] for line in filed.context] == [
            message.pk for message in [*earlier[-21:], *replies[:20]]
        ]
        assert filed.context[20] == {
            "id": reported.pk,
            "from": "sender",
            "msg": "message 24",
            "created_at": reported.created_at.isoformat(),
            "recalled": 0,
        }
        assert filed.context[21]["from"] == "reporter"
        assert not Report.objects.exists()  # not feed's queue

    def test_across_a_block(self, api, user, bob, friends):
        (message,) = make_messages(bob, user, 1)
        block(user, bob)
        assert body(report(api, message.pk)) == REPORTED

    def test_only_a_message_the_caller_received(self, api, user, bob, carol, friends):
        (own,) = make_messages(user, bob, 1)
        make_friends(bob, carol)
        (others,) = make_messages(bob, carol, 1)
        (hidden,) = make_messages(bob, user, 1, is_hidden=True)
        for raw_id in (own.pk, others.pk, hidden.pk, 10**9, "abc", "1.5"):
            assert body(report(api, raw_id)) == NO_TARGET
        assert not MessageReport.objects.exists()

    def test_a_repeated_report_is_queued_once(self, api, user, bob, friends):
        (message,) = make_messages(bob, user, 1)
        assert body(report(api, message.pk)) == REPORTED
        assert body(report(api, message.pk, reason="again")) == REPORTED
        assert MessageReport.objects.count() == 1

    def test_a_recall_after_filing_keeps_the_copy(self, user, bob, friends, client_for):
        bob_api = client_for(bob)
        sent = bob_api.post("/send_msg", {"email": BOB, "femail": ALICE, "msg": "恶意内容"})
        message_id = sent.json()["data"]["id"]
        assert body(report(client_for(user), message_id)) == REPORTED
        recall = bob_api.post("/recall_msg", {"email": BOB, "id": message_id})
        assert body(recall)["status"] == 8007
        filed = MessageReport.objects.get()
        assert filed.reported_text == "恶意内容"
        assert filed.context[-1]["msg"] == "恶意内容"

    def test_one_target_at_a_time(self, api, user, bob, friends):
        (message,) = make_messages(bob, user, 1)
        post = make_post(bob)
        params = {"email": ALICE, "message": message.pk, "post": post.pk, "reason": "x"}
        assert body(api.post("/report", params), 400)["status"] == 9400
        assert not MessageReport.objects.exists() and not Report.objects.exists()

    def test_codes_in_order(self, api, user, bob, friends):
        (message,) = make_messages(bob, user, 1)
        missing = {"status": 7000, "msg": "缺少参数"}
        assert body(api.post("/report", {"email": ALICE, "message": message.pk})) == missing
        assert body(api.post("/report", {"message": message.pk, "reason": "x"})) == missing
        # not found before ownership, ownership before format
        assert body(report(api, 10**9, email=BOB)) == NO_TARGET
        assert body(report(api, message.pk, email=BOB), 403)["status"] == 9403
        assert body(report(api, message.pk, reason="x" * 501), 400)["status"] == 9400

    def test_the_report_outlives_both_accounts(self, api, user, bob, friends, client_for):
        (message,) = make_messages(bob, user, 1)
        assert body(report(api, message.pk)) == REPORTED
        for person in (bob, user):
            deleted = client_for(person).post(
                "/delete_account", {"email": person.email, "pass": PASSWORD}
            )
            assert body(deleted)["status"] == 1015
        filed = MessageReport.objects.get()
        assert (filed.reporter, filed.sender, filed.message) == (None, None, None)
        assert filed.reported_text == "message 0"
        assert not Message.objects.exists()


# The admin


@pytest.fixture(params=["superuser", "moderator"])
def staff_user(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def filed(api, user, bob, friends):
    """alice's report of bob's 21st message of 41."""
    made = make_messages(bob, user, 41)
    assert body(report(api, made[20].pk)) == REPORTED
    return MessageReport.objects.get(), made


def run_action(client, action, reports):
    return client.post(
        reverse("admin:chat_messagereport_changelist"),
        {"action": action, "_selected_action": [report.pk for report in reports]},
        follow=True,
    )


def test_the_queue_and_the_report_page_show_the_message_with_its_context(staff_client, filed):
    report_row, made = filed
    queue = staff_client.get(reverse("admin:chat_messagereport_changelist"))
    assert queue.status_code == 200
    assert list(queue.context["cl"].result_list) == [report_row]
    page = staff_client.get(reverse("admin:chat_messagereport_change", args=[report_row.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    for message in made:  # the message and the 20 before and after it
        assert f"<td>message {message.text.split()[1]}</td>" in content
    assert content.count("<td>#") == 41


def test_the_context_stops_at_20_each_side(staff_client, api, user, bob, friends):
    made = make_messages(bob, user, 60)
    assert body(report(api, made[30].pk)) == REPORTED
    report_row = MessageReport.objects.get()
    page = staff_client.get(reverse("admin:chat_messagereport_change", args=[report_row.pk]))
    content = page.content.decode()
    assert "<td>message 10</td>" in content and "<td>message 50</td>" in content
    assert "<td>message 9</td>" not in content and "<td>message 51</td>" not in content


def test_hiding_the_message_takes_it_out_of_every_answer(
    staff_client, staff_user, filed, api, client_for, bob
):
    report_row, made = filed
    reported = made[20]
    run_action(staff_client, "hide_message_and_resolve", [report_row])
    assert Message.objects.get(pk=reported.pk).is_hidden
    report_row.refresh_from_db()
    assert (report_row.state, report_row.resolved_by) == ("resolved", staff_user)
    for client, email, femail in ((api, ALICE, BOB), (client_for(bob), BOB, ALICE)):
        shown = client.get("/get_msgs", {"email": email, "femail": femail, "limit": 100}).json()
        assert reported.pk not in [message["id"] for message in shown["data"]]
        assert len(shown["data"]) == 40


def test_hiding_the_last_message_moves_get_chats_to_the_one_before(
    staff_client, api, user, bob, friends
):
    made = make_messages(bob, user, 2)
    assert body(report(api, made[1].pk)) == REPORTED
    run_action(staff_client, "hide_message_and_resolve", list(MessageReport.objects.all()))
    (chat,) = api.get("/get_chats", {"email": ALICE}).json()["data"]
    assert chat["last"]["id"] == made[0].pk
    assert chat["unread"] == 1
    # the only message hidden: the conversation leaves the list
    assert body(report(api, made[0].pk)) == REPORTED
    run_action(staff_client, "hide_message_and_resolve", list(MessageReport.objects.all()))
    assert api.get("/get_chats", {"email": ALICE}).json()["data"] == []
    assert set(Participant.objects.values_list("last_message", flat=True)) == {None}


def test_showing_a_hidden_message_again(staff_client, filed, api):
    report_row, made = filed
    run_action(staff_client, "hide_message_and_resolve", [report_row])
    run_action(staff_client, "show_message", [report_row])
    assert not Message.objects.filter(is_hidden=True).exists()
    shown = api.get("/get_msgs", {"email": ALICE, "femail": BOB, "limit": 100}).json()["data"]
    assert made[20].pk in [message["id"] for message in shown]
    (chat,) = api.get("/get_chats", {"email": ALICE}).json()["data"]
    assert chat["last"]["id"] == made[-1].pk


def test_staff_without_the_message_permission_cannot_hide(client, make_user, filed):
    """A staff member who may handle message reports but not change messages."""
    clerk = make_user(is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="chat",
            codename__in=["view_messagereport", "change_messagereport"],
        )
    )
    client.force_login(clerk)
    report_row, _ = filed
    response = run_action(client, "hide_message_and_resolve", [report_row])
    assert "没有修改私信的权限" in response.content.decode()
    assert not Message.objects.filter(is_hidden=True).exists()


def test_deactivating_the_sender(staff_client, filed, bob):
    report_row, _ = filed
    run_action(staff_client, "deactivate_sender_and_resolve", [report_row])
    assert not User.objects.get(pk=bob.pk).is_active
    report_row.refresh_from_db()
    assert report_row.state == "resolved"


def test_no_admin_page_lists_private_messages(superuser_client, filed):
    for name in ("admin:chat_message_changelist", "admin:chat_conversation_changelist"):
        with pytest.raises(NoReverseMatch):
            reverse(name)
    assert superuser_client.get("/admin/chat/message/").status_code == 404
    index = superuser_client.get("/admin/").content.decode()
    assert "/admin/chat/messagereport/" in index
    assert "/admin/chat/message/" not in index


def test_reports_are_made_through_the_api_only(superuser_client):
    assert superuser_client.get("/admin/chat/messagereport/add/").status_code == 403


@pytest.mark.parametrize("count", [1, 30])
def test_the_queue_renders_with_a_bounded_number_of_queries(
    staff_client, user, make_user, count, django_assert_max_num_queries
):
    for _ in range(count):
        sender = make_user()
        make_friends(user, sender)
        (message,) = make_messages(sender, user, 1)
        MessageReport.objects.create(reporter=user, sender=sender, message=message, reason="x")
    # session, user, permissions (moderator), the page's rows, the count
    with django_assert_max_num_queries(8):
        response = staff_client.get(reverse("admin:chat_messagereport_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == count
