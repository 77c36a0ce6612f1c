"""The WebSocket load test behind `make loadtest-ws`: live delivery of chat messages at scale.

It makes a fresh database (as `make loadtest`: SQLite var/loadtest-ws.sqlite3, or a new PostgreSQL
database <name>_loadtest_ws beside DATABASE_URL's), starts the site on it with `make run` (the
demo seed, then gunicorn with uvicorn workers; its channel layer is CHANNEL_LAYER_URL's server
when set, else make run's embedded Valkey), and from this process, over loopback only:

1. pairs the first --sockets demo users as mutual friends and gives each a token (through the
   services /set_friend and /login use: a login's Argon2 hash per user would only time the
   hasher), then opens one authenticated socket per user (the Authorization header) and waits
   for each `ready`;
2. sends messages over HTTP (/send_msg, each with a client_id) at --rate per second for --seconds,
   round the pairs in turn, and records when each send started and when each socket received
   its `message` frame: delivery latency is the recipient's frame time minus the send's start;
   beside them, at --notice-rate per second, each user of a pair likes (the first time) or
   comments on (after that) the other's post, and the author's socket should get the `notice`
   frame: its latency is timed the same way;
3. waits for the last frames, then counts per socket the frames lost (an acknowledged message
   whose frame never reached the sender's or the recipient's socket, an acknowledged like or
   comment whose notice never reached the post's author) and duplicated;
4. with --idle N, opens more sockets until N are held (the message phase's included), checks
   each still answers a ping, and reports the server's memory per socket;
5. stops the server and checks in the database that every acknowledged message and comment is
   stored exactly once under the id it was acknowledged with, and every acknowledged like once.

Server memory per socket is the growth of the gunicorn workers' resident memory (VmRSS) from
before the sockets opened to when they are all held, divided by their number. The figures go to
var/loadtest-ws.json. It exits non-zero on a lost or duplicated frame, a lost or duplicated
message, comment or like, a 5xx, unexpected status or transport error, a socket that closed, or
a delivery p99 (of messages or of notices) over --p99-budget ms.

    python bench/loadtest_ws.py [--sockets 1000] [--rate 50] [--notice-rate 10] [--seconds 60]
                                [--idle 0]
"""

import argparse
import asyncio
import http.client
import json
import os
import random
import resource
import sys
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import websockets  # noqa: E402

from bench.common import VAR, percentile, prepare_database, print_table  # noqa: E402
from bench.loadtest import (  # noqa: E402
    check_unique_writes,
    demo_users,
    setup_django,
    start_server,
    stop_server,
)
from feed.demo import DEMO_USERS  # noqa: E402

SENT = 8001  # /send_msg's success (API.md, "Chat")
LIKED, COMMENTED = 3008, 3007  # /like's and /comment's (API.md, "Feed")
CONNECTS_AT_ONCE = 50  # handshakes in flight while the sockets open
HTTP_THREADS = 16  # concurrent /send_msg calls at most (each on its own keep-alive connection)
DRAIN_SECONDS = 10  # how long the last frames may take after the last acknowledgement
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000, help="sockets sending (1000)")
    parser.add_argument("--rate", type=float, default=50, help="messages per second (50)")
    parser.add_argument(
        "--notice-rate",
        type=float,
        default=10,
        help="likes and comments per second, beside the messages (10; 0: none)",
    )
    parser.add_argument("--seconds", type=float, default=60, help="length of the sending (60)")
    parser.add_argument(
        "--idle", type=int, default=0, help="sockets to hold at the end, idle (0: no idle phase)"
    )
    parser.add_argument("--port", type=int, default=5360, help="port of the server (5360)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument(
        "--p99-budget", type=float, default=150, help="delivery p99 in ms at most (150)"
    )
    args = parser.parse_args()
    if args.sockets < 2 or args.sockets % 2 or args.rate <= 0 or args.seconds <= 0:
        parser.error("--sockets an even number ≥ 2, --rate and --seconds > 0")
    if args.notice_rate < 0 or args.notice_rate * min(args.seconds, 600) > args.sockets * 60:
        parser.error(
            "/comment takes 60 comments per user in 10 minutes: --notice-rate at most "
            "--sockets × 60 ÷ --seconds"
        )
    if args.rate > args.sockets:  # each sender then sends at most once a second
        parser.error("/send_msg takes 20 messages per sender in 10 s: --rate at most --sockets")
    if args.idle and args.idle < args.sockets:
        parser.error("--idle counts every socket held: at least --sockets")
    raise_file_limit(max(args.sockets, args.idle))

    VAR.mkdir(exist_ok=True)
    url = prepare_database("loadtest-ws")
    database = "PostgreSQL" if url.startswith("postgres") else "SQLite (WAL)"
    layer = os.environ.get("CHANNEL_LAYER_URL") or "make run's embedded Valkey"
    log_path = VAR / "loadtest-ws-server.log"
    users_needed = max(args.sockets, args.idle)
    print(
        f"WebSocket load test on {database}, channel layer {layer}: {args.sockets} sockets, "
        f"{args.rate:g} messages/s and {args.notice_rate:g} likes or comments/s "
        f"for {args.seconds:g} s"
        + (f", then {args.idle} idle sockets" if args.idle else "")
        + f"; gunicorn {args.workers} workers on 127.0.0.1:{args.port}; server log {log_path}",
        flush=True,
    )
    setup_django(url)
    # The seed deactivates a few of its users: some to spare.
    server = start_server(args, url, log_path, users=max(DEMO_USERS, users_needed * 11 // 10))
    try:
        emails = demo_users()[:users_needed]
        if len(emails) < users_needed:
            sys.exit(f"the seed made {len(emails)} active users, not {users_needed}")
        accounts = prepare_accounts(emails, args.sockets)
        run = Run(args, accounts, server.pid)
        asyncio.run(run.everything())
    finally:
        stop_server(server)
    problems = run.problems()
    problems += check_unique_writes("message", run.acknowledged_texts(), stored_messages(run))
    problems += check_unique_writes("comment", run.notices.comment_texts(), stored_comments(run))
    problems += check_likes(run.notices.acknowledged_likes(), stored_likes(run))
    figures = run.figures(database, layer)
    (VAR / "loadtest-ws.json").write_text(json.dumps(figures, indent=2) + "\n")
    print_report(run, figures)
    for kind, latency in (("message", figures["latency_ms"]), ("notice", figures["notices"])):
        if latency.get("p99", 0) > args.p99_budget:
            problems.append(
                f"{kind} delivery p99 {latency['p99']:.1f} ms over the budget of "
                f"{args.p99_budget:g} ms"
            )
    if problems:
        print("\nFAILED:", *problems, sep="\n  ")
        sys.exit(1)
    print(
        "\nOK: every acknowledged message reached both sockets once and is stored once, every "
        "acknowledged like and comment is stored once and its notice reached its author once; "
        f"figures in {VAR / 'loadtest-ws.json'}."
    )


def raise_file_limit(sockets):
    """Each socket is a descriptor here and in a worker (which inherits this limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = sockets + 1000
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            sys.exit(f"{sockets} sockets need {wanted} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def prepare_accounts(emails, sending):
    """(email, token, post id) of each user; the first `sending` paired as mutual friends, (0, 1),
    (2, 3)…, each with a post of their own that the other likes and comments on."""
    from django.db import connection

    from accounts.models import AuthToken, User
    from feed.services import put_post
    from friends.services import set_friend

    users = {user.email: user for user in User.objects.filter(email__in=emails)}
    for index in range(0, sending, 2):
        one, other = users[emails[index]], users[emails[index + 1]]
        set_friend(one, other, "1")
        set_friend(other, one, "1")
    now_ms = int(time.time() * 1000)
    posts = {
        email: put_post(users[email], message="ws-load post", time=now_ms).pk
        for email in emails[:sending]
    }
    accounts = [
        (email, AuthToken.objects.issue(users[email]), posts.get(email)) for email in emails
    ]
    connection.close()
    return accounts


def workers(make_pid):
    """{pid: (resident memory in KiB, CPU seconds so far)} of each gunicorn worker under `make
    run`'s process `make_pid`: the processes running gunicorn's script whose parent (the
    master) runs it too."""
    parents, scripts, cpu = {}, {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The command name is in parentheses and may hold spaces; after it come the
                # state, the parent pid, … and the user and system CPU times (fields 14, 15).
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                arguments = cmdline.read().split(b"\0")
        except (OSError, IndexError):
            continue  # a process that ended meanwhile
        pid = int(entry)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        scripts[pid] = len(arguments) > 1 and arguments[1].endswith(b"gunicorn")

    def under_make(pid):
        while pid > 1:
            if pid == make_pid:
                return True
            pid = parents.get(pid, 0)
        return False

    return {
        pid: (read_rss_kib(pid), cpu[pid])
        for pid, parent in parents.items()
        if scripts[pid] and scripts.get(parent) and under_make(pid)
    }


def read_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class HttpSender:
    """/send_msg from a pool of threads, each with its own keep-alive connection."""

    def __init__(self, port):
        self.port = port
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(HTTP_THREADS)

    def send(self, token, params, path="/send_msg"):
        """(HTTP status, parsed body or None, error or None, milliseconds)."""
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=30
            )
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        started = time.perf_counter()
        try:
            connection.request("POST", path, urllib.parse.urlencode(params), headers)
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            return None, None, error, (time.perf_counter() - started) * 1000
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        return response.status, body, None, (time.perf_counter() - started) * 1000


class Deliveries:
    """The messages sent and the frames that arrived, per socket (one socket per user here)."""

    def __init__(self):
        # client_id -> {"sender", "recipient", "text", "started", "id" (None until acknowledged)}
        self.sends = {}
        self.frames = Counter()  # (socket's email, message id) -> frames received
        self.latencies_ms = []  # send → the recipient's first frame of the message

    def sent(self, client_id, *, sender, recipient, text):
        """A send about to start; the returned record takes its "id" once acknowledged."""
        record = {"sender": sender, "recipient": recipient, "text": text, "id": None}
        record["started"] = time.perf_counter()
        self.sends[client_id] = record
        return record

    def received(self, email, message, arrived):
        """A `message` frame's data that arrived on `email`'s socket at perf_counter `arrived`."""
        key = (email, message["id"])
        self.frames[key] += 1
        record = self.sends.get(message["client_id"])
        if record and email == record["recipient"] and self.frames[key] == 1:
            self.latencies_ms.append((arrived - record["started"]) * 1000)

    def acknowledged(self):
        return [record for record in self.sends.values() if record["id"] is not None]

    def missing(self):
        """(socket's email, message id) of each frame an acknowledged message still owes: one to
        the sender's socket and one to the recipient's."""
        return [
            (email, record["id"])
            for record in self.acknowledged()
            for email in (record["sender"], record["recipient"])
            if not self.frames[(email, record["id"])]
        ]

    def lost_and_duplicated(self):
        duplicated = sum(count - 1 for count in self.frames.values() if count > 1)
        return len(self.missing()), duplicated


class Notices:
    """The likes and comments sent and the `notice` frames that arrived, per socket. A notice is
    known by its like (actor, post) or its comment's id, which only the answer tells: its frame
    may come first, so arrival times are kept and matched at the end."""

    def __init__(self):
        self.actions = []  # {"kind", "actor", "author", "post", "text", "started", "key"}
        self.liked = set()  # (actor, post) sent a like
        self.frames = Counter()  # (socket's email, key) -> notice frames received
        self.first_arrival = {}  # (socket's email, key) -> perf_counter of the first
        self.answer_ms = []

    def next_action(self, actor, author, post, text, *, may_like=True):
        """A like of `post` the first time `actor` acts on it with `may_like`, else a comment."""
        kind = "like" if may_like and (actor, post) not in self.liked else "comment"
        if kind == "like":
            self.liked.add((actor, post))
        record = {"kind": kind, "actor": actor, "author": author, "post": post, "text": text}
        record["key"] = ("like", actor, post) if kind == "like" else None
        record["acknowledged"] = False
        record["started"] = time.perf_counter()
        self.actions.append(record)
        return record

    def acknowledge(self, record, data):
        """The action answered with success; `data`: the answer's (a Comment for a comment)."""
        if record["kind"] == "comment":
            record["key"] = ("comment", data["id"])
            record["comment"] = data["id"]
        record["acknowledged"] = True

    def received(self, email, notice, arrived):
        if notice["type"] == "like":
            key = ("like", notice["actor"]["email"], notice["post"])
        elif notice["type"] == "comment":
            key = ("comment", notice["comment"])
        else:
            return  # a follow notice: none made during the run
        self.frames[(email, key)] += 1
        self.first_arrival.setdefault((email, key), arrived)

    def acknowledged(self):
        return [record for record in self.actions if record["acknowledged"]]

    def missing(self):
        """The acknowledged actions whose notice has not reached the post's author."""
        return [
            record
            for record in self.acknowledged()
            if not self.frames[(record["author"], record["key"])]
        ]

    def lost_and_duplicated(self):
        duplicated = sum(count - 1 for count in self.frames.values() if count > 1)
        return len(self.missing()), duplicated

    def latencies_ms(self):
        return [
            (self.first_arrival[(record["author"], record["key"])] - record["started"]) * 1000
            for record in self.acknowledged()
            if (record["author"], record["key"]) in self.first_arrival
        ]

    def comment_texts(self):
        """Each comment's text → its acknowledged id (None: no answer)."""
        return {
            record["text"]: record.get("comment")
            for record in self.actions
            if record["kind"] == "comment"
        }

    def acknowledged_likes(self):
        return [
            (record["actor"], record["post"])
            for record in self.acknowledged()
            if record["kind"] == "like"
        ]


class Run:
    """The sockets, the sends and what arrived."""

    def __init__(self, args, accounts, make_pid):
        self.args, self.accounts, self.make_pid = args, accounts, make_pid
        self.ws_url = f"ws://127.0.0.1:{args.port}/ws"
        self.tag = f"{random.SystemRandom().getrandbits(32):08x}"
        self.prefix = f"ws-load-{self.tag} "
        self.sockets = {}  # email -> its socket
        self.deliveries = Deliveries()
        self.notices = Notices()
        self.send_ms = []
        self.failures = Counter()
        self.examples = []
        self.closed = Counter()  # close codes of sockets that closed during the run
        self.rss = {}
        self.idle_held = 0
        self.sending_seconds = 0

    async def everything(self):
        sending = self.accounts[: self.args.sockets]
        self.rss["before"] = workers(self.make_pid)
        started = time.monotonic()
        await self.open_sockets(sending)
        self.open_seconds = time.monotonic() - started
        self.rss["held"] = workers(self.make_pid)
        self.client_cpu = [cpu_seconds_of_this_process()]
        readers = [asyncio.create_task(self.read(email, ws)) for email, ws in self.sockets.items()]
        await asyncio.gather(self.send_messages(sending), self.send_notice_actions(sending))
        await self.drain()
        self.rss["sent"] = workers(self.make_pid)
        self.client_cpu.append(cpu_seconds_of_this_process())
        if self.args.idle:
            await self.hold_idle()
        for ws in self.sockets.values():
            await ws.close()
        await asyncio.gather(*readers)

    async def open_sockets(self, accounts):
        """One socket per account, authenticated by header, `CONNECTS_AT_ONCE` at a time."""
        slots = asyncio.Semaphore(CONNECTS_AT_ONCE)

        async def open_one(email, token, _post=None):
            async with slots:
                ws = await websockets.connect(
                    self.ws_url,
                    additional_headers={"Authorization": f"Bearer {token}"},
                    open_timeout=60,
                )
                ready = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if ready != {"type": "ready", "email": email}:
                    raise RuntimeError(f"{email}'s socket answered {ready}")
                self.sockets[email] = ws

        await asyncio.gather(*(open_one(*account) for account in accounts))

    async def read(self, email, ws):
        try:
            async for raw in ws:
                arrived = time.perf_counter()
                frame = json.loads(raw)
                if frame.get("type") == "message":
                    self.deliveries.received(email, frame["data"], arrived)
                elif frame.get("type") == "notice":
                    self.notices.received(email, frame["data"], arrived)
        except websockets.ConnectionClosed as closed:
            if closed.rcvd is None or closed.rcvd.code != 1000:
                self.closed[closed.rcvd.code if closed.rcvd else "no close frame"] += 1

    async def send_messages(self, accounts):
        """Sends at the set rate (each on time, whatever the answers' pace), round the pairs in
        turn, the direction alternating; every send runs in the HTTP pool."""
        sender_pool = HttpSender(self.args.port)
        loop = asyncio.get_running_loop()
        pairs = len(accounts) // 2
        total = int(self.args.rate * self.args.seconds)
        pending = []
        started = time.perf_counter()
        for number in range(total):
            await asyncio.sleep(max(0.0, started + number / self.args.rate - time.perf_counter()))
            turn, pair = divmod(number, pairs)
            one, other = accounts[2 * pair], accounts[2 * pair + 1]
            (sender, token, _), (recipient, _, _) = (one, other) if turn % 2 == 0 else (other, one)
            client_id = f"{self.tag}-{number}"
            text = f"{self.prefix}{number}"
            params = {"email": sender, "femail": recipient, "msg": text, "client_id": client_id}
            sent = self.deliveries.sent(client_id, sender=sender, recipient=recipient, text=text)
            future = loop.run_in_executor(sender_pool.pool, sender_pool.send, token, params)
            pending.append(asyncio.ensure_future(self.acknowledge(sent, future)))
        await asyncio.gather(*pending)
        self.sending_seconds = time.perf_counter() - started
        sender_pool.pool.shutdown()

    async def send_notice_actions(self, accounts):
        """Likes and comments at --notice-rate, as send_messages paces the messages: the pairs in
        turn, each user acting on the other's post."""
        if not self.args.notice_rate:
            return
        sender_pool = HttpSender(self.args.port)
        loop = asyncio.get_running_loop()
        pairs = len(accounts) // 2
        total = int(self.args.notice_rate * self.args.seconds)
        pending = []
        started = time.perf_counter()
        for number in range(total):
            await asyncio.sleep(
                max(0.0, started + number / self.args.notice_rate - time.perf_counter())
            )
            turn, pair = divmod(number, pairs)
            one, other = accounts[2 * pair], accounts[2 * pair + 1]
            (actor, token, _), (author, _, post) = (one, other) if turn % 2 == 0 else (other, one)
            text = f"{self.prefix}notice {number}"
            # Likes and comments about half and half: a like only on even numbers.
            record = self.notices.next_action(actor, author, post, text, may_like=number % 2 == 0)
            if record["kind"] == "like":
                path, params = "/like", {"email": actor, "id": post}
            else:
                path, params = "/comment", {"email": actor, "id": post, "comment": text}
            future = loop.run_in_executor(sender_pool.pool, sender_pool.send, token, params, path)
            pending.append(asyncio.ensure_future(self.acknowledge_notice_action(record, future)))
        await asyncio.gather(*pending)
        sender_pool.pool.shutdown()

    async def acknowledge_notice_action(self, record, future):
        status, body, error, elapsed_ms = await future
        self.notices.answer_ms.append(elapsed_ms)
        expected = LIKED if record["kind"] == "like" else COMMENTED
        if error is not None:
            self.fail("transport error", repr(error))
        elif status >= 500:
            self.fail("5xx", f"HTTP {status} {body}")
        elif not body or body.get("status") != expected:
            self.fail(f"not {expected}", f"HTTP {status} {body}")
        else:
            self.notices.acknowledge(record, body["data"])

    async def acknowledge(self, sent, future):
        status, body, error, elapsed_ms = await future
        self.send_ms.append(elapsed_ms)
        if error is not None:
            self.fail("transport error", repr(error))
        elif status >= 500:
            self.fail("5xx", f"HTTP {status} {body}")
        elif not body or body.get("status") != SENT:
            self.fail("not 8001", f"HTTP {status} {body}")
        else:
            sent["id"] = body["data"]["id"]

    def fail(self, kind, example):
        self.failures[kind] += 1
        if len(self.examples) < 5:
            self.examples.append(example)

    async def drain(self):
        deadline = time.monotonic() + DRAIN_SECONDS
        while (self.deliveries.missing() or self.notices.missing()) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    async def hold_idle(self):
        """Open sockets up to --idle in all (the newer ones idle), then check that every one
        answers a ping, and read the workers' memory."""
        await self.open_sockets(self.accounts[self.args.sockets : self.args.idle])
        await asyncio.sleep(1)  # let the workers settle after the handshakes
        self.rss["idle"] = workers(self.make_pid)
        answers = await asyncio.gather(
            *(self.pong(ws) for ws in self.sockets.values()), return_exceptions=True
        )
        self.idle_held = sum(answer is True for answer in answers)
        for answer in answers:
            if answer is not True:
                self.fail("idle socket without a pong", repr(answer))

    @staticmethod
    async def pong(ws):
        """A ping answered on this socket: websockets' own Ping frame, which the server's
        protocol answers (the JSON ping would arrive among the reader's frames)."""
        waiter = await ws.ping()
        await asyncio.wait_for(waiter, 30)
        return True

    def acknowledged_texts(self):
        return {sent["text"]: sent["id"] for sent in self.deliveries.sends.values()}

    def problems(self):
        problems = [f"{kind}: {count}" for kind, count in self.failures.items()]
        if self.examples:
            problems.append("e.g. " + " | ".join(self.examples))
        if self.closed:
            problems.append(f"sockets closed during the run, by close code: {dict(self.closed)}")
        lost, duplicated = self.deliveries.lost_and_duplicated()
        if lost or duplicated:
            problems.append(f"frames lost: {lost}, duplicated: {duplicated}")
        lost, duplicated = self.notices.lost_and_duplicated()
        if lost or duplicated:
            problems.append(f"notice frames lost: {lost}, duplicated: {duplicated}")
        if self.args.idle and self.idle_held != self.args.idle:
            problems.append(f"{self.idle_held} of {self.args.idle} idle sockets answered a ping")
        return problems

    def figures(self, database, layer):
        acknowledged = len(self.deliveries.acknowledged())
        writes = acknowledged + len(self.notices.acknowledged())
        lost, duplicated = self.deliveries.lost_and_duplicated()
        latencies = self.deliveries.latencies_ms or [float("nan")]
        figures = {
            "sockets": len(self.accounts[: self.args.sockets]),
            "seconds": round(self.sending_seconds, 1),
            "messages": acknowledged,
            "messages_per_s": round(acknowledged / self.sending_seconds, 1),
            "latency_ms": {
                name: round(percentile(latencies, fraction), 1)
                for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
            },
            "send_ms": {
                name: round(percentile(self.send_ms, fraction), 1)
                for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
            },
            "lost": lost,
            "duplicated": duplicated,
            "notices": self.notice_figures(),
            "rss_per_socket_kib": per_socket(
                self.rss["before"], self.rss["held"], self.args.sockets
            ),
            # Per write: a message, a like or a comment (the notice mix's writes share the CPU).
            "server_cpu_ms_per_write": cpu_ms_per_write(self.rss["held"], self.rss["sent"], writes),
            # The load's own share of the machine: its sockets and HTTP clients.
            "client_cpu_ms_per_write": round(
                (self.client_cpu[1] - self.client_cpu[0]) * 1000 / max(writes, 1), 2
            ),
            "open_seconds": round(self.open_seconds, 1),
            "workers": self.args.workers,
            "database": database,
            "channel_layer": layer,
        }
        if self.args.idle:
            figures["idle"] = {
                "sockets": self.idle_held,
                "rss_per_socket_kib": per_socket(
                    self.rss["before"], self.rss["idle"], self.args.idle
                ),
                "worker_rss_mib": [round(rss / 1024, 1) for rss, _ in self.rss["idle"].values()],
            }
        return figures

    def notice_figures(self):
        """The likes and comments acknowledged, their notices' delivery and their answers."""
        acknowledged = self.notices.acknowledged()
        if not self.notices.actions:
            return {}
        lost, duplicated = self.notices.lost_and_duplicated()
        latencies = self.notices.latencies_ms() or [float("nan")]
        return {
            "likes": sum(record["kind"] == "like" for record in acknowledged),
            "comments": sum(record["kind"] == "comment" for record in acknowledged),
            "per_s": round(len(acknowledged) / self.sending_seconds, 1),
            **{
                name: round(percentile(latencies, fraction), 1)
                for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
            },
            "answer_ms": {
                name: round(percentile(self.notices.answer_ms, fraction), 1)
                for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
            },
            "lost": lost,
            "duplicated": duplicated,
        }


def cpu_seconds_of_this_process():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def per_socket(before, after, sockets):
    """The workers' memory growth per socket, in KiB (a worker restarted in between counts
    whole)."""
    growth = sum(rss for rss, _ in after.values()) - sum(
        before[pid][0] for pid in after if pid in before
    )
    return round(growth / sockets, 1)


def cpu_ms_per_write(before, after, writes):
    """The workers' CPU time from `before` to `after`, per write."""
    spent = sum(cpu for _, cpu in after.values()) - sum(
        before[pid][1] for pid in after if pid in before
    )
    return round(spent * 1000 / max(writes, 1), 2)


def stored_messages(run):
    """(id, text) of the messages this run sent that the database holds."""
    from chat.models import Message

    return list(Message.objects.filter(text__startswith=run.prefix).values_list("id", "text"))


def stored_comments(run):
    """(id, text) of the comments this run wrote that the database holds."""
    from feed.models import Comment

    prefix = f"{run.prefix}notice "
    return list(Comment.objects.filter(text__startswith=prefix).values_list("id", "text"))


def stored_likes(run):
    """(liker's email, post id) of the likes of this run's posts."""
    from feed.models import Like

    posts = [post for _, _, post in run.accounts if post is not None]
    return list(Like.objects.filter(post__in=posts).values_list("user__email", "post_id"))


def check_likes(acknowledged, stored):
    """Each acknowledged like (email, post) stored exactly once."""
    counts = Counter(stored)
    return [
        f"like of post {post} by {email} stored {counts[(email, post)]} times"
        for email, post in acknowledged
        if counts[(email, post)] != 1
    ]


def print_report(run, figures):
    latency, send = figures["latency_ms"], figures["send_ms"]
    print(
        f"\n{figures['sockets']} sockets open in {figures['open_seconds']} s; "
        f"{figures['messages']} messages acknowledged in {figures['seconds']} s: "
        f"{figures['messages_per_s']}/s\n"
    )
    print_table(
        [("", "28"), ("p50 ms", ">8.1f"), ("p95 ms", ">8.1f"), ("p99 ms", ">8.1f")],
        [
            ["delivery (send → frame)", latency["p50"], latency["p95"], latency["p99"]],
            ["POST /send_msg", send["p50"], send["p95"], send["p99"]],
            *notice_rows(figures["notices"]),
        ],
    )
    print(
        f"\nframes lost: {figures['lost']}, duplicated: {figures['duplicated']}; server memory "
        f"{figures['rss_per_socket_kib']} KiB per socket ({figures['workers']} workers); "
        f"CPU per write (a message, like or comment): the workers' "
        f"{figures['server_cpu_ms_per_write']} ms, "
        f"this load's {figures['client_cpu_ms_per_write']} ms"
    )
    if figures["notices"]:
        notices = figures["notices"]
        print(
            f"{notices['likes']} likes and {notices['comments']} comments acknowledged "
            f"({notices['per_s']}/s); notice frames lost: {notices['lost']}, duplicated: "
            f"{notices['duplicated']}"
        )
    if "idle" in figures:
        idle = figures["idle"]
        print(
            f"idle: {idle['sockets']} sockets held, {idle['rss_per_socket_kib']} KiB per socket; "
            f"workers' RSS {idle['worker_rss_mib']} MiB"
        )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} after the run")


def notice_rows(notices):
    if not notices:
        return []
    answer = notices["answer_ms"]
    return [
        ["notice (like/comment → frame)", notices["p50"], notices["p95"], notices["p99"]],
        ["POST /like, /comment", answer["p50"], answer["p95"], answer["p99"]],
    ]


if __name__ == "__main__":
    main()
