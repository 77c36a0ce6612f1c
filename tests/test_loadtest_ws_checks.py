"""The checks with which `make loadtest-ws` counts frames lost and duplicated, delivery latency
and the server's memory and CPU per socket and message (the load itself runs from make)."""

from bench.loadtest_ws import Deliveries, Notices, check_likes, cpu_ms_per_write, per_socket

A, B = "a@example.com", "b@example.com"


def sent_and_acknowledged(deliveries, client_id, message_id, *, sender=A, recipient=B):
    record = deliveries.sent(client_id, sender=sender, recipient=recipient, text=client_id)
    record["id"] = message_id
    return record


def frame(message_id, client_id):
    return {"id": message_id, "client_id": client_id}


def test_a_message_owes_one_frame_to_each_socket_of_the_pair():
    deliveries = Deliveries()
    record = sent_and_acknowledged(deliveries, "c1", 10)
    assert deliveries.missing() == [(A, 10), (B, 10)]
    deliveries.received(B, frame(10, "c1"), record["started"] + 0.025)
    assert deliveries.missing() == [(A, 10)]
    assert deliveries.lost_and_duplicated() == (1, 0)
    deliveries.received(A, frame(10, "c1"), record["started"] + 0.001)
    assert deliveries.lost_and_duplicated() == (0, 0)
    # Latency is the recipient's frame's, not the sender's echo.
    assert [round(ms) for ms in deliveries.latencies_ms] == [25]


def test_a_frame_twice_on_one_socket_is_a_duplicate_timed_once():
    deliveries = Deliveries()
    record = sent_and_acknowledged(deliveries, "c1", 10)
    for socket in (A, B, B):
        deliveries.received(socket, frame(10, "c1"), record["started"] + 0.01)
    assert deliveries.lost_and_duplicated() == (0, 1)
    assert len(deliveries.latencies_ms) == 1


def test_an_unacknowledged_send_owes_nothing():
    deliveries = Deliveries()
    deliveries.sent("c1", sender=A, recipient=B, text="c1")  # no answer: may or may not be stored
    sent_and_acknowledged(deliveries, "c2", 11)
    assert deliveries.missing() == [(A, 11), (B, 11)]
    assert [record["id"] for record in deliveries.acknowledged()] == [11]


def test_memory_per_socket_counts_a_restarted_worker_whole():
    before = {1: (100_000, 5.0), 2: (100_000, 5.0)}
    after = {1: (150_000, 6.0), 3: (80_000, 1.0)}  # worker 2 died, 3 took its place
    assert per_socket(before, after, 1000) == (50_000 + 80_000) / 1000
    assert cpu_ms_per_write(before, after, 100) == (1.0 + 1.0) * 1000 / 100


def notice(kind, *, actor=A, post=7, comment=None):
    return {"type": kind, "actor": {"email": actor}, "post": post, "comment": comment}


def test_the_first_action_on_a_post_that_may_be_a_like_is_one_then_comments():
    notices = Notices()
    kinds = [notices.next_action(A, B, 7, f"t{n}")["kind"] for n in range(3)]
    assert kinds == ["like", "comment", "comment"]
    assert notices.next_action(B, A, 8, "t3", may_like=False)["kind"] == "comment"
    assert notices.next_action(B, A, 8, "t4")["kind"] == "like"


def test_a_comment_notice_arriving_before_its_answer_is_matched_and_timed():
    notices = Notices()
    notices.next_action(A, B, 7, "like")
    comment = notices.next_action(A, B, 7, "nice")
    notices.received(B, notice("comment", comment=40), comment["started"] + 0.030)
    assert notices.missing() == []  # nothing acknowledged yet: nothing owed
    notices.acknowledge(comment, {"id": 40})
    assert notices.lost_and_duplicated() == (0, 0)
    assert [round(ms) for ms in notices.latencies_ms()] == [30]
    assert notices.comment_texts() == {"nice": 40}


def test_a_like_owes_its_author_one_notice():
    notices = Notices()
    like = notices.next_action(A, B, 7, "like")
    notices.acknowledge(like, {"like_count": 1, "liked": 1})
    assert notices.lost_and_duplicated() == (1, 0)
    notices.received(A, notice("like", actor=A), like["started"] + 0.01)  # not the author
    assert notices.lost_and_duplicated() == (1, 0)
    for _ in range(2):
        notices.received(B, notice("like", actor=A), like["started"] + 0.01)
    assert notices.lost_and_duplicated() == (0, 1)
    assert notices.acknowledged_likes() == [(A, 7)]


def test_each_acknowledged_like_is_stored_once():
    assert check_likes([(A, 7)], [(A, 7)]) == []
    assert check_likes([(A, 7), (B, 8)], [(A, 7), (A, 7)]) == [
        f"like of post 7 by {A} stored 2 times",
        f"like of post 8 by {B} stored 0 times",
    ]
