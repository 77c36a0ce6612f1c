"""The checks with which `make loadtest-ws` counts frames lost and duplicated, delivery latency
and the server's memory and CPU per socket and message (the load itself runs from make)."""

from bench.loadtest_ws import Deliveries, cpu_ms_per_message, per_socket

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
    assert cpu_ms_per_message(before, after, 100) == (1.0 + 1.0) * 1000 / 100
