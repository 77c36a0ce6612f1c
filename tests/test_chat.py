"""The chat endpoints (API.md, "Chat"): /send_msg, /get_msgs, /get_chats, /read_msgs,
/recall_msg, driven as a client would, with the frames they push (API.md, "Real time") read
from the in-memory channel layer."""

import asyncio
import threading
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuthToken, User
from chat import services
from chat.models import Conversation, Message, Participant
from friends.models import Friendship
from socialsite.realtime import user_group
from tests.factories import (
    FORBIDDEN,
    MESSAGE_KEYS,
    PROFILE_KEYS,
    ApiClient,
    befriend,
    block,
    body,
    expected_profile,
    make_friends,
    make_messages,
)

pytestmark = pytest.mark.django_db

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
SENT = {"status": 8001, "msg": "发送成功"}
MISSING = {"status": 8000, "msg": "缺少参数"}
NO_PEER = {"status": 8002, "msg": "对方不存在"}
NOT_MUTUAL = {"status": 8003, "msg": "互相关注后才能私信"}
BLOCKED = {"status": 8004, "msg": "存在拉黑关系"}
READ = {"status": 8006, "msg": "已读"}
RECALLED = {"status": 8007, "msg": "已撤回"}
CANNOT_RECALL = {"status": 8008, "msg": "无法撤回"}


@pytest.fixture
def friends(user, bob):
    """alice and bob list each other."""
    make_friends(user, bob)


@pytest.fixture
def bob_api(client_for, bob):
    return client_for(bob)


def send(client, text="你好", femail=BOB, email=ALICE, **extra):
    return client.post("/send_msg", {"email": email, "femail": femail, "msg": text, **extra})


def sent_message(client, text="你好", femail=BOB, email=ALICE, **extra):
    answer = body(send(client, text, femail, email, **extra))
    assert {"status": answer["status"], "msg": answer["msg"]} == SENT, answer
    return answer["data"]


def messages_of(client, femail=BOB, email=ALICE, **params):
    answer = body(client.get("/get_msgs", {"email": email, "femail": femail, **params}))
    assert answer["status"] == 8005, answer
    return answer


def chats_of(client, email=ALICE, **params):
    answer = body(client.get("/get_chats", {"email": email, **params}))
    assert answer["status"] == 8005, answer
    return answer


def ids(answer):
    return [message["id"] for message in answer["data"]]


class TestSend:
    def test_the_message_is_stored_and_returned(self, api, friends, user, bob):
        data = sent_message(api, "  你好，Bob  ", client_id="c-1")
        assert set(data) == MESSAGE_KEYS
        stored = Message.objects.get()
        assert data == {
            "id": stored.pk,
            "sender": ALICE,
            "recipient": BOB,
            "msg": "你好，Bob",
            "created_at": stored.created_at.isoformat(),
            "client_id": "c-1",
            "recalled": 0,
        }
        assert (stored.sender, stored.text) == (user, "你好，Bob")
        conversation = Conversation.objects.get()
        assert (conversation.user_a_id, conversation.user_b_id) == tuple(sorted((user.pk, bob.pk)))

    def test_without_client_id_it_is_null(self, api, friends):
        assert sent_message(api)["client_id"] is None

    def test_both_directions_share_one_conversation(self, api, bob_api, friends):
        first = sent_message(api, "hi")
        second = sent_message(bob_api, "hello", femail=ALICE, email=BOB)
        assert Conversation.objects.count() == 1
        assert ids(messages_of(api)) == [first["id"], second["id"]]
        assert ids(messages_of(bob_api, femail=ALICE, email=BOB)) == [first["id"], second["id"]]

    def test_a_repeated_client_id_returns_the_first_message(self, api, friends):
        first = sent_message(api, "one", client_id="same")
        again = sent_message(api, "two", client_id="same")
        assert again == first
        assert Message.objects.count() == 1

    def test_a_client_id_is_the_senders_own(self, api, bob_api, friends):
        mine = sent_message(api, "mine", client_id="x")
        theirs = sent_message(bob_api, "theirs", femail=ALICE, email=BOB, client_id="x")
        assert mine["id"] != theirs["id"]

    def test_a_repeated_client_id_answers_before_any_other_check(self, api, user, bob, friends):
        first = sent_message(api, client_id="retry")
        Friendship.objects.all().delete()
        block(bob, user)
        for params in [
            {"client_id": "retry"},  # no email, femail or msg
            {"client_id": "retry", "email": BOB, "femail": CAROL, "msg": " "},
        ]:
            answer = body(api.post("/send_msg", params))
            assert answer == {**SENT, "data": first}

    def test_a_repeated_client_id_answers_before_the_rate_limit(self, api, friends):
        first = sent_message(api, client_id="early")
        for number in range(19):
            sent_message(api, f"m{number}")
        assert send(api, "one too many").status_code == 429
        assert body(send(api, "again", client_id="early")) == {**SENT, "data": first}

    @pytest.mark.parametrize(
        "params",
        [
            {"femail": BOB, "msg": "hi"},
            {"email": ALICE, "msg": "hi"},
            {"email": ALICE, "femail": BOB},
            {"email": ALICE, "femail": BOB, "msg": " \n\t "},
            {"email": ALICE, "femail": "", "msg": "hi"},
        ],
    )
    def test_a_missing_parameter_is_8000(self, api, friends, params):
        assert body(api.post("/send_msg", params)) == MISSING
        assert not Message.objects.exists()

    @pytest.mark.parametrize("femail", ["nobody@example.com", "not an email"])
    def test_an_unknown_peer_is_8002(self, api, femail):
        assert body(send(api, femail=femail)) == NO_PEER

    def test_a_deactivated_peer_is_8002(self, api, bob, friends):
        bob.is_active = False
        bob.save()
        assert body(send(api)) == NO_PEER

    def test_8002_comes_before_9403(self, api):
        assert body(send(api, email=BOB, femail="nobody@example.com")) == NO_PEER

    def test_an_email_not_the_callers_is_9403(self, api, carol, friends):
        assert body(send(api, email=CAROL), 403) == FORBIDDEN

    def test_only_mutual_friends_can_message(self, api, user, bob):
        assert body(send(api)) == NOT_MUTUAL
        befriend(user, bob)
        assert body(send(api)) == NOT_MUTUAL  # one way is not enough
        befriend(bob, user)
        sent_message(api)

    def test_oneself_is_8003(self, api):
        assert body(send(api, femail=ALICE)) == NOT_MUTUAL

    @pytest.mark.parametrize("blocker", ["alice", "bob"])
    def test_a_block_either_way_is_8004(self, api, user, bob, friends, blocker):
        one, other = (user, bob) if blocker == "alice" else (bob, user)
        block(one, other)
        assert body(send(api)) == BLOCKED
        assert not Message.objects.exists()

    def test_8004_is_checked_before_8003(self, api, user, bob):
        block(bob, user)  # and no friendship
        assert body(send(api)) == BLOCKED

    def test_too_long_text_or_client_id_is_9400(self, api, friends):
        answer = body(send(api, "字" * 2001), 400)
        assert answer["status"] == 9400 and "msg" in answer["errors"]
        answer = body(send(api, client_id="c" * 65), 400)
        assert answer["status"] == 9400 and "client_id" in answer["errors"]
        assert sent_message(api, "字" * 2000, client_id="c" * 64)["msg"] == "字" * 2000
        assert Message.objects.count() == 1

    def test_format_comes_after_9403(self, api, carol, friends):
        assert body(send(api, "字" * 2001, email=CAROL), 403) == FORBIDDEN

    def test_more_than_20_messages_in_10_seconds_is_429(self, api, friends):
        for number in range(20):
            sent_message(api, f"m{number}")
        response = send(api, "21st")
        assert body(response, 429) == {"status": 9429, "msg": "请求过于频繁"}
        assert 1 <= int(response["Retry-After"]) <= 10
        assert Message.objects.count() == 20

    def test_the_limit_is_per_sender(self, api, bob_api, friends):
        for number in range(20):
            sent_message(api, f"m{number}")
        sent_message(bob_api, "bob's own", femail=ALICE, email=BOB)

    def test_json_body(self, api, friends):
        answer = body(api.post_json("/send_msg", {"email": ALICE, "femail": BOB, "msg": "json"}))
        assert answer["status"] == 8001 and answer["data"]["msg"] == "json"

    def test_get_is_9405_and_no_token_is_9401(self, anon, api):
        assert body(api.get("/send_msg"), 405)["status"] == 9405
        assert body(anon.post("/send_msg", {"email": ALICE}), 401)["status"] == 9401

    def test_the_last_message_of_both_sides_follows(self, api, bob_api, friends):
        sent_message(api, "one")
        last = sent_message(bob_api, "two", femail=ALICE, email=BOB)
        assert set(Participant.objects.values_list("last_message", flat=True)) == {last["id"]}


def send_in_threads(sender, recipient, client_id, count):
    """/send_msg from `count` threads at once, each a client of its own (as app instances would
    be), with one client_id; returns the answers and what went wrong."""
    clients = [ApiClient(AuthToken.objects.issue(sender)) for _ in range(count)]
    barrier = threading.Barrier(count)
    answers, errors = [], []

    def run(client, number):
        try:
            barrier.wait(timeout=10)
            params = {"email": sender.email, "femail": recipient.email, "msg": f"try {number}"}
            answers.append(client.post("/send_msg", {**params, "client_id": client_id}).json())
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(client, n)) for n, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers, errors


@pytest.mark.django_db(transaction=True)
def test_simultaneous_sends_with_one_client_id_store_one_message(user, bob):
    make_friends(user, bob)
    for attempt in range(3):
        answers, errors = send_in_threads(user, bob, f"race-{attempt}", 4)
        assert errors == []
        assert len(answers) == 4
        stored = Message.objects.get(client_id=f"race-{attempt}")
        for answer in answers:
            assert (answer["status"], answer["data"]["id"]) == (8001, stored.pk), answer
        assert len({answer["data"]["msg"] for answer in answers}) == 1


@pytest.mark.django_db(transaction=True)
def test_first_messages_both_ways_at_once_make_one_conversation(user, bob):
    make_friends(user, bob)
    pairs = [(user, bob), (bob, user)] * 2
    barrier = threading.Barrier(len(pairs))
    answers = []

    def run(sender, recipient):
        try:
            client = ApiClient(AuthToken.objects.issue(sender))
            barrier.wait(timeout=10)
            params = {"email": sender.email, "femail": recipient.email, "msg": "hi"}
            answers.append(client.post("/send_msg", params).json()["status"])
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == [8001] * 4
    assert Conversation.objects.count() == 1
    assert Participant.objects.count() == 2
    assert Message.objects.count() == 4


class TestGetMsgs:
    def test_the_newest_page_oldest_first(self, api, user, bob, friends):
        made = make_messages(user, bob, 25)
        answer = messages_of(api)
        assert ids(answer) == [message.pk for message in made[5:]]
        assert answer["has_more"] == 1
        assert answer["peer_read_id"] is None
        first = answer["data"][0]
        assert first == {
            "id": made[5].pk,
            "sender": ALICE,
            "recipient": BOB,
            "msg": "message 5",
            "created_at": made[5].created_at.isoformat(),
            "client_id": None,
            "recalled": 0,
        }

    def test_the_peer_sees_the_same_page(self, bob_api, user, bob, friends):
        made = make_messages(user, bob, 3)
        assert ids(messages_of(bob_api, femail=ALICE, email=BOB)) == [m.pk for m in made]

    def test_scrolling_back_with_before_id(self, api, user, bob, friends):
        made = make_messages(user, bob, 25)
        answer = messages_of(api, before_id=made[5].pk, limit=3)
        assert ids(answer) == [message.pk for message in made[2:5]]
        assert answer["has_more"] == 1
        answer = messages_of(api, before_id=made[2].pk, limit=3)
        assert ids(answer) == [message.pk for message in made[:2]]
        assert answer["has_more"] == 0

    def test_catching_up_with_after_id(self, api, user, bob, friends):
        made = make_messages(user, bob, 10)
        answer = messages_of(api, after_id=made[2].pk, limit=4)
        assert ids(answer) == [message.pk for message in made[3:7]]
        assert answer["has_more"] == 1
        answer = messages_of(api, after_id=made[6].pk, limit=4)
        assert ids(answer) == [message.pk for message in made[7:]]
        assert answer["has_more"] == 0
        assert messages_of(api, after_id=made[-1].pk)["data"] == []

    def test_start_is_ignored_and_limit_is_clamped(self, api, user, bob, friends):
        made = make_messages(user, bob, 120)
        answer = messages_of(api, start=50, limit=1000)
        assert ids(answer) == [message.pk for message in made[20:]]
        assert ids(messages_of(api, start="not a number", limit=2)) == [m.pk for m in made[-2:]]

    def test_no_conversation_yet_is_an_empty_page(self, api, friends):
        answer = messages_of(api)
        assert (answer["data"], answer["has_more"], answer["peer_read_id"]) == ([], 0, None)

    @pytest.mark.parametrize(
        "params",
        [
            {"before_id": "1", "after_id": "2"},
            {"before_id": "abc"},
            {"after_id": "1.5"},
            {"after_id": "-1"},
            {"before_id": str(2**63)},
            {"limit": "x"},
        ],
    )
    def test_bad_cursors_are_9400(self, api, friends, params):
        response = api.get("/get_msgs", {"email": ALICE, "femail": BOB, **params})
        answer = body(response, 400)
        assert answer["status"] == 9400 and answer["errors"]

    def test_codes(self, api, carol, friends):
        assert body(api.get("/get_msgs", {"email": ALICE})) == MISSING
        assert body(api.get("/get_msgs", {"femail": BOB})) == MISSING
        params = {"email": ALICE, "femail": "nobody@example.com"}
        assert body(api.get("/get_msgs", params)) == NO_PEER
        assert body(api.get("/get_msgs", {"email": CAROL, "femail": BOB}), 403) == FORBIDDEN

    def test_a_block_hides_the_conversation_until_lifted(self, api, user, bob, friends):
        made = make_messages(user, bob, 2)
        blocked = block(bob, user)
        assert body(api.get("/get_msgs", {"email": ALICE, "femail": BOB})) == BLOCKED
        blocked.delete()
        assert ids(messages_of(api)) == [message.pk for message in made]

    def test_the_conversation_stays_readable_when_the_friendship_ends(self, api, user, bob):
        make_friends(user, bob)
        made = make_messages(user, bob, 2)
        Friendship.objects.all().delete()
        assert ids(messages_of(api)) == [message.pk for message in made]
        assert body(send(api)) == NOT_MUTUAL

    def test_hidden_messages_leave_the_page(self, api, user, bob, friends):
        made = make_messages(user, bob, 3)
        Message.objects.filter(pk=made[1].pk).update(is_hidden=True)
        assert ids(messages_of(api)) == [made[0].pk, made[2].pk]
        assert ids(messages_of(api, after_id=made[0].pk)) == [made[2].pk]

    def test_a_deactivated_peer_is_8002(self, api, user, bob, friends):
        make_messages(user, bob, 1)
        bob.is_active = False
        bob.save()
        assert body(api.get("/get_msgs", {"email": ALICE, "femail": BOB})) == NO_PEER


class TestGetChats:
    def test_by_last_message_newest_first(self, api, user, bob, carol, make_user):
        dave = make_user(email="dave@example.com")
        for other in (bob, carol, dave):
            make_friends(user, other)
        make_messages(bob, user, 2)
        make_messages(user, carol, 1)
        make_messages(bob, user, 1)  # bob's conversation is the newest again
        answer = chats_of(api)
        assert [chat["peer"]["email"] for chat in answer["data"]] == [BOB, CAROL]
        assert answer["has_more"] == 0
        first = answer["data"][0]
        assert set(first) == {"peer", "last", "unread"}
        assert set(first["peer"]) == PROFILE_KEYS
        assert first["peer"] == expected_profile(BOB, username="bob", like="篮球")
        last = Message.objects.order_by("-id").first()
        assert first["last"]["id"] == last.pk
        assert (first["last"]["sender"], first["last"]["recipient"]) == (BOB, ALICE)
        assert first["unread"] == 3
        assert answer["data"][1]["unread"] == 0  # her own message is no unread one

    def test_paging(self, api, user, make_user):
        peers = [make_user() for _ in range(5)]
        for peer in peers:
            make_friends(user, peer)
            make_messages(peer, user, 1)
        newest_first = [peer.email for peer in reversed(peers)]
        answer = chats_of(api, start=1, limit=2)
        assert [chat["peer"]["email"] for chat in answer["data"]] == newest_first[1:3]
        assert answer["has_more"] == 1
        answer = chats_of(api, start=3, limit=2)
        assert [chat["peer"]["email"] for chat in answer["data"]] == newest_first[3:]
        assert answer["has_more"] == 0

    def test_only_conversations_with_a_visible_message(self, api, user, bob, carol, friends):
        make_friends(user, carol)
        (only,) = make_messages(carol, user, 1)
        make_messages(bob, user, 1)
        Participant.objects.filter(peer=bob).update(last_message=None)  # as if none was sent
        assert [chat["peer"]["email"] for chat in chats_of(api)["data"]] == [CAROL]
        assert chats_of(api)["data"][0]["last"]["id"] == only.pk

    @pytest.mark.parametrize("blocker", ["alice", "bob"])
    def test_a_block_leaves_the_conversation_out_until_lifted(
        self, api, user, bob, friends, blocker
    ):
        make_messages(bob, user, 1)
        one, other = (user, bob) if blocker == "alice" else (bob, user)
        blocked = block(one, other)
        assert chats_of(api)["data"] == []
        blocked.delete()
        assert len(chats_of(api)["data"]) == 1

    def test_a_deactivated_peer_is_left_out(self, api, user, bob, friends):
        make_messages(bob, user, 1)
        bob.is_active = False
        bob.save()
        assert chats_of(api)["data"] == []

    def test_codes(self, api, bob):
        assert body(api.get("/get_chats")) == MISSING
        assert body(api.get("/get_chats", {"email": "nobody@example.com"})) == MISSING
        assert body(api.get("/get_chats", {"email": BOB}), 403) == FORBIDDEN
        assert body(api.get("/get_chats", {"email": ALICE, "limit": "0"}), 400)["status"] == 9400


class TestReadMsgs:
    def test_marks_read_up_to_the_id(self, api, bob_api, user, bob, friends):
        made = make_messages(bob, user, 5)
        assert chats_of(api)["data"][0]["unread"] == 5
        read = {"email": ALICE, "femail": BOB, "id": made[2].pk}
        assert body(api.post("/read_msgs", read)) == READ
        assert chats_of(api)["data"][0]["unread"] == 2
        assert messages_of(bob_api, femail=ALICE, email=BOB)["peer_read_id"] == made[2].pk
        # the peer_read_id is about the caller's own messages: alice's side has none read
        assert messages_of(api)["peer_read_id"] is None

    def test_an_id_past_the_peers_messages_marks_them_all(self, api, bob_api, user, bob, friends):
        made = make_messages(bob, user, 2)
        mine = make_messages(user, bob, 1)
        read = {"email": ALICE, "femail": BOB, "id": mine[0].pk + 100}
        assert body(api.post("/read_msgs", read)) == READ
        assert chats_of(api)["data"][0]["unread"] == 0
        assert messages_of(bob_api, femail=ALICE, email=BOB)["peer_read_id"] == made[-1].pk

    def test_reading_never_goes_back(self, api, bob_api, user, bob, friends):
        made = make_messages(bob, user, 3)
        api.post("/read_msgs", {"email": ALICE, "femail": BOB, "id": made[2].pk})
        api.post("/read_msgs", {"email": ALICE, "femail": BOB, "id": made[0].pk})
        assert messages_of(bob_api, femail=ALICE, email=BOB)["peer_read_id"] == made[2].pk

    def test_no_conversation_is_8006_too(self, api, friends):
        assert body(api.post("/read_msgs", {"email": ALICE, "femail": BOB, "id": "5"})) == READ

    def test_codes(self, api, user, bob, carol, friends):
        for params in [{"email": ALICE, "femail": BOB}, {"email": ALICE, "id": "1"}]:
            assert body(api.post("/read_msgs", params)) == MISSING
        params = {"email": ALICE, "femail": "nobody@example.com", "id": "1"}
        assert body(api.post("/read_msgs", params)) == NO_PEER
        params = {"email": CAROL, "femail": BOB, "id": "1"}
        assert body(api.post("/read_msgs", params), 403) == FORBIDDEN
        for bad in ("abc", "1.5", "-2"):
            params = {"email": ALICE, "femail": BOB, "id": bad}
            assert body(api.post("/read_msgs", params), 400)["status"] == 9400
        block(user, bob)
        assert body(api.post("/read_msgs", {"email": ALICE, "femail": BOB, "id": "1"})) == BLOCKED


class TestRecall:
    def test_recall_within_two_minutes(self, api, bob_api, friends):
        sent = sent_message(api, "oops", client_id="r")
        answer = body(api.post("/recall_msg", {"email": ALICE, "id": sent["id"]}))
        assert answer == RECALLED
        for client, femail, email in ((api, BOB, ALICE), (bob_api, ALICE, BOB)):
            (shown,) = messages_of(client, femail=femail, email=email)["data"]
            assert shown == {**sent, "msg": "", "recalled": 1}
        assert Message.objects.get().text == ""  # the text is gone, not only hidden
        assert chats_of(bob_api, email=BOB)["data"][0]["last"]["msg"] == ""
        # again: 8007, even once the two minutes are over
        Message.objects.update(created_at=timezone.now() - timedelta(minutes=5))
        assert body(api.post("/recall_msg", {"email": ALICE, "id": sent["id"]})) == RECALLED
        # a retry of the send answers the recalled message
        assert body(send(api, "oops", client_id="r"))["data"]["recalled"] == 1

    def test_after_two_minutes_it_stays(self, api, user, bob, friends):
        (old,) = make_messages(user, bob, 1, start=timezone.now() - timedelta(seconds=121))
        assert body(api.post("/recall_msg", {"email": ALICE, "id": old.pk})) == CANNOT_RECALL
        assert messages_of(api)["data"][0]["msg"] == "message 0"

    def test_only_ones_own_message(self, api, user, bob, friends):
        (theirs,) = make_messages(bob, user, 1)
        for raw_id in (theirs.pk, theirs.pk + 1000, "abc", "1.5"):
            answer = body(api.post("/recall_msg", {"email": ALICE, "id": raw_id}))
            assert answer == CANNOT_RECALL
        assert not Message.objects.get().recalled

    def test_a_hidden_message_is_no_ones_to_recall(self, api, friends):
        sent = sent_message(api)
        Message.objects.update(is_hidden=True)
        assert body(api.post("/recall_msg", {"email": ALICE, "id": sent["id"]})) == CANNOT_RECALL
        assert not Message.objects.get().recalled

    def test_allowed_across_a_block(self, api, user, bob, friends):
        sent = sent_message(api)
        block(bob, user)
        assert body(api.post("/recall_msg", {"email": ALICE, "id": sent["id"]})) == RECALLED

    def test_codes(self, api, friends):
        sent = sent_message(api)
        assert body(api.post("/recall_msg", {"email": ALICE})) == MISSING
        assert body(api.post("/recall_msg", {"id": sent["id"]})) == MISSING
        params = {"email": BOB, "id": sent["id"]}
        assert body(api.post("/recall_msg", params), 403) == FORBIDDEN


# Fixed numbers of queries whatever the number of conversations and messages


LIST_QUERY_BUDGET = 6  # the token (and its touch), the peer, the block, the side, the page


@pytest.mark.parametrize("count", [1, 500])
def test_get_msgs_runs_a_fixed_number_of_queries(
    api, user, bob, friends, count, django_assert_max_num_queries
):
    make_messages(bob, user, count)
    with django_assert_max_num_queries(LIST_QUERY_BUDGET):
        answer = messages_of(api, limit=100)
    assert len(answer["data"]) == min(count, 100)
    with django_assert_max_num_queries(LIST_QUERY_BUDGET):
        answer = messages_of(api, after_id=0, limit=100)
    assert len(answer["data"]) == min(count, 100)


@pytest.mark.parametrize("count", [1, 500])
def test_get_chats_runs_a_fixed_number_of_queries(
    api, user, make_user, count, django_assert_max_num_queries
):
    peers = User.objects.bulk_create(
        User(email=f"peer{number}@example.com") for number in range(count)
    )
    Friendship.objects.bulk_create(
        [Friendship(owner=user, friend=peer, group="3") for peer in peers]
        + [Friendship(owner=peer, friend=user, group="3") for peer in peers]
    )
    for peer in peers:
        make_messages(peer, user, 2)
    with django_assert_max_num_queries(LIST_QUERY_BUDGET):
        answer = chats_of(api, limit=100)
    assert len(answer["data"]) == min(count, 100)
    assert {chat["unread"] for chat in answer["data"]} == {2}


def plan_of(client, path, params, table):
    """SQLite's plan (EXPLAIN QUERY PLAN) of the query of `path` that reads from `table`, or
    PostgreSQL's (EXPLAIN, text)."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path, params).json()["status"] == 8005
    (sql,) = [query["sql"] for query in queries if query["sql"].startswith(f'SELECT "{table}"')]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"EXPLAIN {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(row[-1] for row in cursor.fetchall())


# enough that reading them all costs more than an index range (a small table is read whole)
BUSY_MESSAGES = 20_000
BUSY_CONVERSATIONS = 3_000


class TestPlans:
    """The pages are read through the indexes, and (PostgreSQL, which plans by statistics) the
    messages read depend on the page, not on how many messages the site has."""

    @pytest.fixture
    def busy(self, user, bob, carol, friends, make_user):
        """alice's two conversations; on PostgreSQL, many newer messages in others'."""
        make_friends(user, carol)
        make_messages(bob, user, 30)
        make_messages(carol, user, 30)
        if connection.vendor != "postgresql":
            return  # SQLite plans without statistics: its plan does not depend on the rows
        talkers = [make_user() for _ in range(4)]
        for one, other in zip(talkers[::2], talkers[1::2], strict=True):
            make_messages(one, other, BUSY_MESSAGES // 2)
        # someone with many conversations (no message needed for the statistics)
        popular = make_user()
        others = User.objects.bulk_create(
            User(email=f"other{number}@example.com") for number in range(BUSY_CONVERSATIONS)
        )
        conversations = Conversation.objects.bulk_create(
            Conversation(user_a_id=min(popular.pk, other.pk), user_b_id=max(popular.pk, other.pk))
            for other in others
        )
        Participant.objects.bulk_create(
            side
            for conversation, other in zip(conversations, others, strict=True)
            for side in (
                Participant(conversation=conversation, user=popular, peer=other),
                Participant(conversation=conversation, user=other, peer=popular),
            )
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    @pytest.mark.parametrize(
        "params", [{}, {"before_id": "10"}, {"after_id": "10"}], ids=["newest", "before", "after"]
    )
    def test_get_msgs_reads_a_range_of_the_conversations_index(self, api, busy, params):
        plan = plan_of(api, "/get_msgs", {"email": ALICE, "femail": BOB, **params}, "chat_message")
        if connection.vendor == "postgresql":
            assert "chat_message_conversation_id" in plan, plan
            assert "Sort" not in plan, plan
        else:
            assert "SEARCH chat_message USING INDEX chat_message_conversation_id" in plan, plan
            assert "SCAN chat_message" not in plan and "TEMP B-TREE" not in plan, plan

    def test_get_chats_reads_a_range_of_the_users_index(self, api, busy):
        plan = plan_of(api, "/get_chats", {"email": ALICE}, "chat_participant")
        if connection.vendor == "postgresql":
            assert "chat_participant_user_last" in plan, plan
            assert "chat_message_sender_unread" in plan, plan  # the unread counts
            assert "Seq Scan on chat_message" not in plan, plan
        else:
            assert "SEARCH chat_participant USING INDEX chat_participant_user_last" in plan, plan
            assert "SCAN chat_message" not in plan and "SCAN chat_participant" not in plan, plan
            assert "TEMP B-TREE" not in plan, plan


# Pushes (API.md, "Real time"), read from the in-memory channel layer


@pytest.fixture
def sockets(user, bob, carol):
    """sockets[user] → the frames pushed to that user's group since the test began."""
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    channels = {}
    for person in (user, bob, carol):
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(user_group(person.pk), channel)
        channels[person.email] = channel

    async def drain(channel):
        frames = []
        while True:
            try:
                event = await asyncio.wait_for(layer.receive(channel), 0.05)
            except TimeoutError:
                return frames
            assert event["type"] == "push"
            frames.append(event["frame"])

    yield lambda email: async_to_sync(drain)(channels[email])
    async_to_sync(layer.flush)()


class TestPushes:
    def test_a_message_goes_to_both(
        self, api, friends, sockets, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            data = sent_message(api, "实时")
        assert sockets(ALICE) == [{"type": "message", "data": data}]
        assert sockets(BOB) == [{"type": "message", "data": data}]
        assert sockets(CAROL) == []

    def test_a_repeated_client_id_pushes_the_stored_message_again(
        self, api, friends, sockets, django_capture_on_commit_callbacks
    ):
        """The first push may never have gone out (its worker killed after the commit): the
        retry's makes sure the peer's open sockets see it; a socket drops a duplicate by id."""
        with django_capture_on_commit_callbacks(execute=True):
            data = sent_message(api, "一次", client_id="once")
        sockets(ALICE), sockets(BOB)
        with django_capture_on_commit_callbacks(execute=True):
            assert sent_message(api, "二次", client_id="once") == data
        assert sockets(ALICE) == sockets(BOB) == [{"type": "message", "data": data}]
        assert sockets(CAROL) == []

    def test_a_retry_pushes_no_hidden_message_nor_one_across_a_block(
        self, api, user, bob, friends, sockets, django_capture_on_commit_callbacks
    ):
        hidden = sent_message(api, client_id="hidden")
        Message.objects.filter(pk=hidden["id"]).update(is_hidden=True)
        sent_message(api, client_id="blocked")
        sockets(ALICE), sockets(BOB)
        with django_capture_on_commit_callbacks(execute=True):
            sent_message(api, client_id="hidden")
        block(bob, user)
        with django_capture_on_commit_callbacks(execute=True):
            sent_message(api, client_id="blocked")
        assert sockets(ALICE) == sockets(BOB) == []

    def test_read_names_the_other_party_on_each_side(
        self, api, user, bob, friends, sockets, django_capture_on_commit_callbacks
    ):
        made = make_messages(bob, user, 3)
        with django_capture_on_commit_callbacks(execute=True):
            api.post("/read_msgs", {"email": ALICE, "femail": BOB, "id": made[1].pk})
        assert sockets(BOB) == [{"type": "read", "data": {"peer": ALICE, "id": made[1].pk}}]
        assert sockets(ALICE) == [{"type": "read", "data": {"peer": BOB, "id": made[1].pk}}]
        with django_capture_on_commit_callbacks(execute=True):  # nothing new: no frame
            api.post("/read_msgs", {"email": ALICE, "femail": BOB, "id": made[0].pk})
        assert sockets(BOB) == sockets(ALICE) == []

    def test_a_recall_goes_to_both(self, api, friends, sockets, django_capture_on_commit_callbacks):
        data = sent_message(api, "撤回我")
        with django_capture_on_commit_callbacks(execute=True):
            api.post("/recall_msg", {"email": ALICE, "id": data["id"]})
        frame = {"type": "recall", "data": {**data, "msg": "", "recalled": 1}}
        assert sockets(ALICE) == [frame]
        assert sockets(BOB) == [frame]

    def test_nothing_is_pushed_when_the_transaction_rolls_back(
        self, user, bob, friends, sockets, django_capture_on_commit_callbacks
    ):
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            services.send_message(user, bob, text="never")
            raise RuntimeError("rolled back")
        assert not Message.objects.exists()
        assert sockets(ALICE) == sockets(BOB) == []

    def test_a_failing_channel_layer_still_stores_and_answers_8001(
        self, api, friends, monkeypatch, django_capture_on_commit_callbacks, caplog
    ):
        layer = get_channel_layer()

        async def unreachable(*args, **kwargs):
            raise ConnectionError("the channel layer is down")

        monkeypatch.setattr(layer, "group_send", unreachable)
        with django_capture_on_commit_callbacks(execute=True):
            data = sent_message(api, "stored anyway")
        assert Message.objects.get().pk == data["id"]
        assert "was not pushed" in caplog.text
