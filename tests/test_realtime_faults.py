"""Faults of the real-time path (issue 14), on `make run`'s server (gunicorn, two uvicorn workers)
with real sockets: the channel layer stopped and started again in the middle of a run, frozen,
and a worker killed (SIGKILL). Meanwhile mutual-friend pairs send messages over HTTP /send_msg
and each user's device does what API.md ("Delivery") asks of an app: it keeps the message
frames, reconnects when its socket closes, once `ready` arrives asks /get_msgs?after_id= (the
newest id it had) for what it missed, and drops duplicates by id. Each device must end with
exactly the messages acknowledged (8001) in its conversation.

The layer is always a private embedded Valkey (socialsite.embedded_valkey.Server), never CI's
shared Redis: these tests stop it."""

import asyncio
import http.client
import json
import os
import signal
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass

import pytest
import websockets
from django.conf import settings

from socialsite import embedded_valkey, realtime
from tests.factories import make_friends
from tests.live import get, login, post, serving, worker_pids

pytestmark = pytest.mark.django_db(transaction=True)

SENT = 8001
TRY_AGAIN_LATER = 1013
ABNORMAL_CLOSURE = 1006  # the peer went away without a close frame (a killed process)
PAIRS = 4
# Between two sends of one pair, which alternate between its users: each user sends at most two
# messages a second, under /send_msg's limit (20 per sender in 10 s) for a run of a few seconds.
PAUSE_SECONDS = 0.25
# A socket whose worker lost the layer closes as soon as the worker sees the break (the layer
# connection is read every 0.1 s).
CLOSE_SECONDS = 2


@pytest.fixture
def layer(tmp_path_factory):
    """A private channel-layer server that the test may stop and start again at one address."""
    with embedded_valkey.Server(tmp_path_factory.mktemp("layer") / "v.sock") as server:
        yield server


@pytest.fixture
def site(layer):
    """gunicorn as `make run` starts it, on `layer`, sharing the test's cache keys."""
    cache_prefix = settings.CACHES["default"]["KEY_PREFIX"]
    with serving(layer.url, "faults", extra_env={"TEST_CACHE_KEY_PREFIX": cache_prefix}) as master:
        yield master


@pytest.fixture
def pairs(make_user):
    """PAIRS pairs of mutual friends: [(one, other), …]."""
    made = []
    for _ in range(PAIRS):
        one, other = make_user(), make_user()
        make_friends(one, other)
        made.append((one, other))
    return made


class Device:
    """One user's app, connected to the conversation with one peer."""

    def __init__(self, port, email, peer):
        self.port, self.email, self.peer = port, email, peer
        self.token = login(port, email)
        self.messages = {}  # id → Message, from frames and catch-ups, each kept once
        self.live = set()  # the ids that came as frames
        self.ws = None
        self.reader = None

    def handshake(self):
        return websockets.connect(
            f"ws://127.0.0.1:{self.port}/ws",
            additional_headers={"Authorization": f"Bearer {self.token}"},
            open_timeout=2,
        )

    async def open(self):
        """One handshake: the socket once `ready` arrives, else None (refused, or closed)."""
        try:
            ws = await self.handshake()
        except (OSError, TimeoutError, websockets.InvalidHandshake):
            return None
        try:
            async with asyncio.timeout(2):
                frame = json.loads(await ws.recv())
        except (TimeoutError, websockets.ConnectionClosed):
            await ws.close()
            return None
        assert frame == {"type": "ready", "email": self.email}
        return ws

    async def connect(self, within=5):
        """Connect until `ready` (retrying 0.1 s after each failure), then catch up from the
        newest id had before this connection: not from the frames of the new socket, which
        may already be newer than what the old one missed."""
        deadline = time.monotonic() + within
        while (ws := await self.open()) is None:
            assert time.monotonic() < deadline, f"{self.email} not connected within {within} s"
            await asyncio.sleep(0.1)
        cursor = max(self.messages, default=0)
        self.ws = ws
        self.reader = asyncio.create_task(self.read(ws))
        await self.catch_up(cursor)

    async def read(self, ws):
        """Keep the message frames until the socket closes; returns its close code."""
        try:
            async for text in ws:
                frame = json.loads(text)
                if frame["type"] == "message":
                    self.live.add(frame["data"]["id"])
                    self.keep(frame["data"])
        except websockets.ConnectionClosed:
            pass
        return ws.close_code

    async def closed_code(self, within=CLOSE_SECONDS):
        # Shielded: a timeout must not cancel the reader, whose close code the failure shows.
        return await asyncio.wait_for(asyncio.shield(self.reader), within)

    def keep(self, message):
        # A frame and the list give one message alike.
        assert self.messages.setdefault(message["id"], message) == message

    async def catch_up(self, after_id):
        while True:
            query = urllib.parse.urlencode(
                {"email": self.email, "femail": self.peer, "after_id": after_id, "limit": 100}
            )
            status, answer = await asyncio.to_thread(
                get, self.port, f"/get_msgs?{query}", self.token
            )
            assert (status, answer["status"]) == (200, 8005), answer
            for message in answer["data"]:
                self.keep(message)
            if not answer["has_more"]:
                return
            after_id = answer["data"][-1]["id"]

    async def reconnect(self):
        await self.ws.close()
        await self.reader
        await self.connect()


@dataclass
class Sent:
    client_id: str
    started: float  # time.monotonic() when the first attempt began
    seconds: float  # until it was acknowledged
    message: dict  # the acknowledged Message
    attempts: int


def send(port, sender, token, recipient, client_id, within=15):
    """/send_msg as a client sends it: again with the same client_id after a transport failure
    (the connection broke before an answer), until it is acknowledged. Returns (Message,
    attempts)."""
    deadline = time.monotonic() + within
    params = {
        "email": sender,
        "femail": recipient,
        "msg": f"消息 {client_id}",
        "client_id": client_id,
    }
    attempts = 0
    while True:
        attempts += 1
        try:
            answer = post(port, "/send_msg", params, token)
        except (OSError, http.client.HTTPException, ValueError):
            # ValueError: an empty or cut body (json.loads); the others: the connection broke.
            assert time.monotonic() < deadline, f"{client_id} not acknowledged within {within} s"
            time.sleep(0.05)
            continue
        assert answer["status"] == SENT, answer
        return answer["data"], attempts


class Conversations:
    """One thread per pair sending, its users in turn, until stop(); what was acknowledged."""

    def __init__(self, port, devices):
        self.port = port
        self.sent = {index: [] for index in range(len(devices))}
        self.failures = []
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self.converse, args=(index, pair), daemon=True)
            for index, pair in enumerate(devices)
        ]
        for thread in self.threads:
            thread.start()

    def converse(self, index, pair):
        turn = 0
        try:
            while not self.stopping.is_set():
                sender, recipient = pair[turn % 2], pair[(turn + 1) % 2]
                client_id = f"p{index}-{turn}"
                started = time.monotonic()
                message, attempts = send(
                    self.port, sender.email, sender.token, recipient.email, client_id
                )
                seconds = time.monotonic() - started
                self.sent[index].append(Sent(client_id, started, seconds, message, attempts))
                turn += 1
                self.stopping.wait(PAUSE_SECONDS)
        except BaseException as exc:  # the test's thread reports it
            self.failures.append(exc)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)
        assert not self.failures, self.failures

    async def flow(self, since, count=2, within=10):
        """Wait until every pair has `count` sends acknowledged that began after `since`."""
        deadline = time.monotonic() + within
        while any(
            sum(sent.started > since for sent in sent_by_pair) < count
            for sent_by_pair in self.sent.values()
        ):
            assert not self.failures, self.failures
            assert time.monotonic() < deadline, f"fewer than {count} sends a pair in {within} s"
            await asyncio.sleep(0.05)

    def acknowledged(self, index):
        return {sent.message["id"] for sent in self.sent[index]}

    def all_sent(self):
        return [sent for sent_by_pair in self.sent.values() for sent in sent_by_pair]


def devices_of(port, pairs):
    return [
        (Device(port, one.email, other.email), Device(port, other.email, one.email))
        for one, other in pairs
    ]


def every(devices):
    return [device for pair in devices for device in pair]


async def delivered_live(devices, conversations, since, within=2):
    """Wait until every message whose send began after `since` came as a frame to both users."""
    deadline = time.monotonic() + within
    for index, pair in enumerate(devices):
        expected = {
            sent.message["id"] for sent in conversations.sent[index] if sent.started > since
        }
        assert expected, "no message was sent in the period"
        for device in pair:
            while not expected <= device.live:
                assert time.monotonic() < deadline, f"not live: {sorted(expected - device.live)}"
                await asyncio.sleep(0.05)


async def assert_every_device_has_exactly_what_was_acknowledged(devices, conversations):
    """Each device reconnects and catches up, as after any break: it then holds exactly the
    acknowledged messages of its conversation (their ids, and what the list gives for each)."""
    await asyncio.gather(*(device.reconnect() for device in every(devices)))
    for index, pair in enumerate(devices):
        acknowledged = conversations.acknowledged(index)
        for device in pair:
            assert set(device.messages) == acknowledged, device.email
        for sent in conversations.sent[index]:
            assert pair[0].messages[sent.message["id"]] == sent.message


def healthz(port):
    started = time.monotonic()
    answer = get(port, "/healthz")
    return answer, time.monotonic() - started


LAYER_DOWN = (200, {"status": 0, "msg": "ok", "db": "ok", "cache": "ok", "channels": "error"})
LAYER_UP = (200, {"status": 0, "msg": "ok", "db": "ok", "cache": "ok", "channels": "ok"})


def test_the_channel_layer_stopped_mid_run_loses_nothing_acknowledged(layer, site, pairs):
    """Stopped: every socket closes 1013 (what is pushed while the layer is away never reaches
    it), every send is still acknowledged, /healthz says "channels": "error" with 200, and new
    sockets are refused until the layer is back. Started again at the same address (gunicorn
    untouched): the clients reconnect and catch up, and live frames flow again."""
    port = site.port
    devices = devices_of(port, pairs)
    workers = worker_pids(site)

    async def scenario():
        await asyncio.gather(*(device.connect() for device in every(devices)))
        flowing = time.monotonic()
        conversations = Conversations(port, devices)
        await conversations.flow(since=flowing)
        await delivered_live(devices, conversations, since=flowing)

        await asyncio.to_thread(layer.stop)
        stopped = time.monotonic()
        for device in every(devices):
            assert await device.closed_code() == TRY_AGAIN_LATER, device.email
        (answer, seconds) = await asyncio.to_thread(healthz, port)
        assert answer == LAYER_DOWN
        assert seconds < realtime.SEND_TIMEOUT_SECONDS
        with pytest.raises(websockets.InvalidStatus) as refused:  # no socket without the layer
            await devices[0][0].handshake()
        assert refused.value.response.status_code == 503
        assert json.loads(refused.value.response.body) == {"status": 9503, "msg": "服务暂不可用"}
        await conversations.flow(since=stopped, count=1)

        await asyncio.to_thread(layer.start)
        started = time.monotonic()
        await asyncio.gather(*(device.connect() for device in every(devices)))
        assert (await asyncio.to_thread(healthz, port))[0] == LAYER_UP
        reconnected = time.monotonic()
        await conversations.flow(since=reconnected)
        conversations.stop()
        await delivered_live(devices, conversations, since=reconnected)

        during = [sent for sent in conversations.all_sent() if stopped < sent.started < started]
        # A stopped layer refuses at once: no send waits for the push's timeout.
        assert max(sent.seconds for sent in during) < realtime.SEND_TIMEOUT_SECONDS
        assert all(sent.attempts == 1 for sent in conversations.all_sent())
        await assert_every_device_has_exactly_what_was_acknowledged(devices, conversations)

    asyncio.run(scenario())
    assert worker_pids(site) == workers  # the same workers throughout


def test_a_frozen_channel_layer_holds_a_request_at_most_the_push_timeout(layer, site, pairs):
    """A layer that takes connections but does not answer (SIGSTOP) costs a send at most
    SEND_TIMEOUT_SECONDS, and /healthz as much; thawed, frames flow again on the open sockets."""
    port = site.port
    ((one, other), *_) = devices_of(port, pairs[:1])

    async def scenario():
        await asyncio.gather(one.connect(), other.connect())
        os.kill(layer.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            message, _ = await asyncio.to_thread(
                send, port, one.email, one.token, other.email, "frozen"
            )
            assert time.monotonic() - started < realtime.SEND_TIMEOUT_SECONDS + 1
            (answer, seconds) = await asyncio.to_thread(healthz, port)
            assert answer == LAYER_DOWN
            assert seconds < realtime.SEND_TIMEOUT_SECONDS + 1
        finally:
            os.kill(layer.process.pid, signal.SIGCONT)
        thawed, _ = await asyncio.to_thread(send, port, other.email, other.token, one.email, "t")
        async with asyncio.timeout(2):
            while thawed["id"] not in one.live or thawed["id"] not in other.live:
                await asyncio.sleep(0.05)
        for device in (one, other):
            await device.catch_up(0)
            assert set(device.messages) == {message["id"], thawed["id"]}

    asyncio.run(scenario())


# A worker killed


def tcp_inodes(server_port):
    """{client port: socket inode} of the connections accepted on `server_port` (IPv4)."""
    inodes = {}
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            remote_port = int(fields[2].split(":")[1], 16)
            if local_port == server_port and fields[9] != "0":
                inodes[remote_port] = fields[9]
    return inodes


def holder(master, client_port, within=2):
    """The pid of the worker that accepted the connection from `client_port`."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        inode = tcp_inodes(master.port).get(client_port)
        for pid in worker_pids(master) if inode else ():
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with_inode = f"socket:[{inode}]"
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == with_inode:
                        return pid
                except FileNotFoundError:  # closed meanwhile
                    continue
        time.sleep(0.02)  # not accepted yet
    raise AssertionError(f"no worker holds the connection from port {client_port}")


async def spread_over_both_workers(master, devices):
    """{worker pid: [device, …]}, each worker holding some sockets: a device whose worker holds
    more than half of them reconnects, until both hold some (the kernel picks the worker)."""
    for _ in range(40):
        by_worker = {pid: [] for pid in worker_pids(master)}
        for device in every(devices):
            pid = await asyncio.to_thread(holder, master, device.ws.local_address[1])
            by_worker[pid].append(device)
        if all(by_worker.values()):
            return by_worker
        crowded = max(by_worker.values(), key=len)
        await crowded[0].reconnect()
    raise AssertionError("the sockets stayed on one worker")


def request_held_by(master, pid, sender, recipient, client_id):
    """A /send_msg on a connection that worker `pid` accepted, half its body sent: in flight."""
    body = urllib.parse.urlencode(
        {"email": sender.email, "femail": recipient.email, "msg": "半", "client_id": client_id}
    ).encode()
    head = (
        "POST /send_msg HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {sender.token}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    for _ in range(40):
        connection = socket.create_connection(("127.0.0.1", master.port), timeout=10)
        if holder(master, connection.getsockname()[1]) == pid:
            connection.sendall(head + body[: len(body) // 2])
            return connection
        connection.close()
    raise AssertionError(f"no connection reached worker {pid}")


def answer_of(connection):
    """What the server sent back before the connection ended: b"" when nothing."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    connection.close()
    return received


def test_a_worker_killed_mid_run_loses_nothing_acknowledged(site, pairs):
    """SIGKILL one worker while messages flow: its sockets close 1006 and their clients
    reconnect (to the other worker, or the one gunicorn starts in its place) and catch up; the
    other worker's sockets stay open; a send in flight on the killed worker gets no answer, and
    its retry with the same client_id is stored once; every acknowledged message is in each
    device's conversation exactly once, and a retry of any gives back the stored one."""
    port = site.port
    devices = devices_of(port, pairs)

    async def scenario():
        await asyncio.gather(*(device.connect() for device in every(devices)))
        by_worker = await spread_over_both_workers(site, devices)
        victim, survivor = sorted(by_worker, key=lambda pid: len(by_worker[pid]), reverse=True)
        flowing = time.monotonic()
        conversations = Conversations(port, devices)
        await conversations.flow(since=flowing)
        one, other = devices[0]
        in_flight = await asyncio.to_thread(request_held_by, site, victim, one, other, "cut")

        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        for device in by_worker[victim]:
            assert await device.closed_code() == ABNORMAL_CLOSURE, device.email
        assert await asyncio.to_thread(answer_of, in_flight) == b""
        assert all(not device.reader.done() for device in by_worker[survivor])
        await asyncio.gather(*(device.connect(within=15) for device in by_worker[victim]))
        retried, _ = await asyncio.to_thread(send, port, one.email, one.token, other.email, "cut")
        conversations.sent[0].append(Sent("cut", killed, 0, retried, 1))
        reconnected = time.monotonic()
        await conversations.flow(since=reconnected)
        conversations.stop()
        await delivered_live(devices, conversations, since=reconnected)
        assert all(not device.reader.done() for device in by_worker[survivor])
        await assert_every_device_has_exactly_what_was_acknowledged(devices, conversations)

        for index, (sender, recipient) in enumerate(devices):
            stored = [*sender.messages.values()]
            client_ids = [message["client_id"] for message in stored]
            assert sorted(client_ids) == sorted(s.client_id for s in conversations.sent[index])
            for sent in (conversations.sent[index][0], conversations.sent[index][-1]):
                author, peer = sender, recipient
                if sent.message["sender"] != author.email:
                    author, peer = peer, author
                again, _ = await asyncio.to_thread(
                    send, port, author.email, author.token, peer.email, sent.client_id
                )
                assert again == sent.message

    asyncio.run(scenario())
    deadline = time.monotonic() + 20
    while len(worker_pids(site)) != 2:  # gunicorn starts one in place of the killed worker
        assert time.monotonic() < deadline, "the killed worker was not replaced"
        time.sleep(0.1)
