"""The load test behind `make loadtest`: nothing acknowledged may be lost under concurrency.

It makes a fresh database (SQLite var/loadtest.sqlite3 in WAL mode, or a new PostgreSQL database
<name>_loadtest beside the one DATABASE_URL names), starts the site on it with `make run` (its
setup seeds the demo users, then gunicorn serves), and from this process drives it over HTTP on
127.0.0.1 with --clients concurrent clients for --seconds seconds. Each client logs in through
/login as its own demo user and runs a mix of /get_friend_post, /get_data, /recommend, /putPost,
/comment, /set_friend and /login again. Clients are also grouped in fives (--contest) logged in
as one shared account: every few actions the group meets at a barrier and all of them send
/set_friend for the same new pair at once, each with its own group.

Then it prints requests per second, p50/p95/p99 per endpoint and the non-2xx count, stops the
server, and checks the database: every post (3001) and comment (3007) acknowledged is stored
exactly once under the id it was acknowledged with, none refused by API.md's limits on posts
and comments (429/9429, an answer the contract gives) is stored, no message is stored twice,
and every friendship pair written has exactly one row whose group is one that may have been the
last written (for a contested pair: one of the groups sent in its last round). It exits non-zero on
any 5xx, unexpected status or transport error, any "database is locked" in a response or in the
server's log, or any lost or duplicated write.

    python bench/loadtest.py [--clients 50] [--seconds 30] [--port 5350] [--workers 2]
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, VAR, percentile, prepare_database, print_table  # noqa: E402
from feed.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USERS  # noqa: E402

LOCKED = "database is locked"

# The business status each endpoint answers when it did what was asked (API.md).
SUCCESS = {
    "POST /login (start)": 1002,
    "POST /login": 1002,
    "GET /get_friend_post": 3002,
    "GET /get_data": 1008,
    "GET /recommend": 1008,
    "POST /putPost": 3001,
    "POST /comment": 3007,
    "POST /set_friend": 5003,
    "POST /set_friend (contested)": 5003,
}
# API.md limits posts and comments per user (429/9429): a refusal is an answer the contract gives,
# and what it refused must not be stored.
LIMITED = {"POST /putPost", "POST /comment"}
TOO_MANY_REQUESTS = 9429
REFUSED = "refused"  # in the ledger, in place of an id
SEARCH_TERMS = ["篮球", "音乐", "旅行", "摄影", "ing"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument("--seconds", type=float, default=30, help="length of the load (30)")
    parser.add_argument("--port", type=int, default=5350, help="port of the server (5350)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--contest", type=int, default=5, help="clients per contested pair (5)")
    parser.add_argument(
        "--contest-every", type=int, default=8, help="actions between two contests (8)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the mix (1)")
    args = parser.parse_args()
    if args.clients < 1 or args.seconds <= 0 or args.contest < 2:
        parser.error("--clients ≥ 1, --seconds > 0 and --contest ≥ 2")

    VAR.mkdir(exist_ok=True)
    url = prepare_database("loadtest")
    database = "PostgreSQL" if url.startswith("postgres") else "SQLite (WAL)"
    log_path = VAR / "loadtest-server.log"
    groups = contest_groups(args.clients, args.contest)
    users_needed = args.clients + len(groups) + 1
    print(
        f"Load test on {database}: {args.clients} clients × {args.seconds:g} s, "
        f"gunicorn {args.workers} workers on 127.0.0.1:{args.port}; server log {log_path}",
        flush=True,
    )
    setup_django(url)
    server = start_server(args, url, log_path, users=max(DEMO_USERS, users_needed))
    try:
        users = demo_users()
        ledger = Ledger(tag=f"{random.SystemRandom().getrandbits(32):08x}")
        stats = Stats()
        login_seconds, mix_seconds = run_load(args, users, groups, ledger, stats)
    finally:
        stop_server(server)
    print_report(stats, login_seconds, mix_seconds)
    problems = stats.problems()
    locked_in_log = log_path.read_text(errors="replace").lower().count(LOCKED)
    if locked_in_log:
        problems.append(f'"{LOCKED}" {locked_in_log} time(s) in the server log')
    problems += verify_database(ledger)
    if problems:
        print("\nFAILED:", *problems, sep="\n  ")
        sys.exit(1)
    print("\nOK: no 5xx, no locked database, every acknowledged write stored exactly once.")


def contest_groups(clients, size):
    """Client numbers in groups of `size` that share an account; a remainder too small to
    contest joins the last group."""
    numbers = list(range(clients))
    groups = [numbers[start : start + size] for start in range(0, clients, size)]
    if len(groups) > 1 and len(groups[-1]) < 2:
        remainder = groups.pop()
        groups[-1] += remainder
    return [group for group in groups if len(group) >= 2]


def start_server(args, url, log_path, *, users):
    """`make run` on the fresh database, in its own process group so that it stops as a whole."""
    # Another server on the port would answer in ours' place while ours fails to bind.
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", args.port)) == 0:
            sys.exit(f"127.0.0.1:{args.port} is already in use: choose another --port")
    command = [
        os.environ.get("MAKE", "make"),
        "--no-print-directory",
        "run",
        "HOST=127.0.0.1",
        f"PORT={args.port}",
        f"WORKERS={args.workers}",
        f"SEED_ARGS=--users {users}",
    ]
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url, "DEBUG": "0"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"`make run` exited with {server.returncode}: see {log_path}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.5)
    stop_server(server)
    sys.exit(f"the server did not answer /healthz within 300 s: see {log_path}")


def stop_server(server):
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def setup_django(url):
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialsite.settings")
    import django

    django.setup()


def demo_users():
    """The seeded demo accounts, oldest first (the load logs in as them)."""
    from django.db import connection

    from accounts.models import User

    emails = list(
        User.objects.filter(email__endswith=f"@{DEMO_DOMAIN}", is_active=True)
        .order_by("id")
        .values_list("email", flat=True)
    )
    connection.close()
    return emails


class Ledger:
    """What the server was asked to write, and what it acknowledged."""

    def __init__(self, tag):
        # Every message and comment starts with this, so that the check finds all stored copies.
        self.prefix = f"load-{tag} "
        self.lock = threading.Lock()
        self.posts = {}  # message -> acknowledged id, REFUSED (9429), or None when unanswered
        self.comments = {}  # text -> acknowledged id, REFUSED, or None
        # (owner, friend) -> rounds; a round is the (group, acknowledged) of concurrent requests
        self.friend_rounds = defaultdict(list)

    def wrote(self, kind, text, acknowledged_id):
        with self.lock:
            getattr(self, kind)[text] = acknowledged_id

    def set_friend(self, pair, group, acknowledged, *, round_number=None):
        """One request; those with the same round_number of one pair ran at the same time."""
        with self.lock:
            rounds = self.friend_rounds[pair]
            if round_number is None or not rounds or rounds[-1][0] != round_number:
                rounds.append((round_number, []))
            rounds[-1][1].append((group, acknowledged))


class Stats:
    """Latencies and failures per endpoint."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = defaultdict(list)
        self.non_2xx = Counter()
        self.server_errors = Counter()
        self.unexpected = Counter()  # 2xx with another business status than SUCCESS
        self.limited = Counter()  # 9429 from the limits on posts and comments
        self.transport_errors = Counter()
        self.locked = 0
        self.examples = []
        self.crashes = []

    def record(self, name, elapsed_ms, http_status, body):
        with self.lock:
            self.latencies[name].append(elapsed_ms)
            if LOCKED in body.lower():
                self.locked += 1
            if not 200 <= http_status < 300:
                self.non_2xx[name] += 1
            if http_status >= 500:
                self.server_errors[name] += 1
            status = business_status(body)
            if status == TOO_MANY_REQUESTS and name in LIMITED:
                self.limited[name] += 1
            elif status != SUCCESS[name]:
                self.unexpected[name] += 1
                if len(self.examples) < 5:
                    self.examples.append(f"{name}: HTTP {http_status} {body[:200]}")
            return status

    def transport_error(self, name, error):
        with self.lock:
            self.transport_errors[name] += 1
            if len(self.examples) < 5:
                self.examples.append(f"{name}: {error!r}")

    def problems(self):
        problems = []
        for label, counter in (
            ("5xx responses", self.server_errors),
            ("responses without the success status", self.unexpected),
            ("transport errors", self.transport_errors),
        ):
            if counter:
                problems.append(f"{label}: {dict(counter)}")
        problems += self.crashes
        if self.locked:
            problems.append(f'"{LOCKED}" in {self.locked} response(s)')
        if problems and self.examples:
            problems.append("e.g. " + " | ".join(self.examples))
        return problems


def business_status(body):
    try:
        return json.loads(body).get("status")
    except (ValueError, AttributeError):
        return None


class Client:
    """One simulated app: a keep-alive connection (reopened when the server closes it)."""

    def __init__(self, port, stats):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.stats = stats

    def call(self, name, params, token=None):
        """Send the request `name` ("METHOD /path"); the parsed body when it succeeded."""
        method, path = name.split(" (")[0].split(" ")
        encoded = urllib.parse.urlencode(params)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if method == "GET":
            path, encoded = f"{path}?{encoded}", None
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=encoded, headers=headers)
            response = self.connection.getresponse()
            body = response.read().decode("utf-8", errors="replace")
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()
            self.stats.transport_error(name, error)
            return None
        elapsed = (time.perf_counter() - started) * 1000
        status = self.stats.record(name, elapsed, response.status, body)
        limited = status == TOO_MANY_REQUESTS and name in LIMITED
        return json.loads(body) if status == SUCCESS[name] or limited else None

    def login(self, email, password, name="POST /login"):
        answer = self.call(name, {"email": email, "pass": password})
        return answer and answer["data"]["token"]


def run_load(args, users, groups, ledger, stats):
    """Every client logs in, then all run the mix until the deadline. Returns the seconds of
    the log-in wave and of the mix."""
    return Load(args, users, groups, ledger, stats).run()


class Load:
    """What the clients of one run share: the accounts, the contest groups (each with its
    account, its barrier and its order of friends to add), the clock, the ledger and the stats."""

    def __init__(self, args, users, groups, ledger, stats):
        self.args, self.users, self.ledger, self.stats = args, users, ledger, stats
        self.owners = users[args.clients : args.clients + len(groups)]
        self.group_of = {number: index for index, group in enumerate(groups) for number in group}
        self.barriers = [threading.Barrier(len(group)) for group in groups]
        # Each contest group adds, round after round, the next user of its own order to its
        # account.
        self.contest_friends = [
            random.Random(args.seed * 1000 + index).sample(
                [email for email in users if email != owner], len(users) - 1
            )
            for index, owner in enumerate(self.owners)
        ]
        self.started = time.monotonic()
        self.mix_started = self.deadline = None
        # Logging in costs an Argon2 hash (~0.4 s of CPU), so all clients log in first, timed
        # apart.
        self.logged_in = threading.Barrier(args.clients, action=self.start_the_mix)

    def start_the_mix(self):
        self.mix_started = time.monotonic()
        self.deadline = self.mix_started + self.args.seconds

    def run(self):
        threads = [
            threading.Thread(target=self.run_client, args=(number,))
            for number in range(self.args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        end = time.monotonic()
        return self.mix_started - self.started, end - self.mix_started

    def run_client(self, number):
        try:
            LoadClient(self, number).run()
        except Exception as error:
            self.stats.crashes.append(f"client {number} stopped: {error!r}")
            # Whoever waits for this client waits no more.
            self.logged_in.abort()
            for barrier in self.barriers:
                barrier.abort()


class LoadClient:
    """One client of the mix: its demo account (and its contest group's shared one), its
    connection, its rng seeded by --seed and its number, and the ids of the posts it has seen.
    One method per action of ACTIONS, plus the contest."""

    def __init__(self, load, number):
        self.load, self.number = load, number
        self.rng = random.Random(load.args.seed * 100_000 + number)
        self.me = load.users[number]
        self.http = Client(load.args.port, load.stats)
        self.group = load.group_of.get(number)
        self.owner = load.owners[self.group] if self.group is not None else None
        self.token = self.owner_token = None
        self.post_ids = []
        self.done = 0  # actions so far, contests included
        self.contest_round = 0

    def run(self):
        self.token = self.http.login(self.me, DEMO_PASSWORD, "POST /login (start)")
        self.owner_token = self.owner and self.http.login(
            self.owner, DEMO_PASSWORD, "POST /login (start)"
        )
        self.load.logged_in.wait()
        deadline = self.load.deadline
        actions = [action for _, action in ACTIONS]
        weights = [weight for weight, _ in ACTIONS]
        while self.token and time.monotonic() < deadline:
            self.done += 1
            if self.owner_token and self.done % self.load.args.contest_every == 0:
                self.contest(deadline)
            else:
                self.rng.choices(actions, weights)[0](self)
        if self.owner_token:
            # Release the others of the group waiting for a contest.
            self.load.barriers[self.group].abort()

    def contest(self, deadline):
        """Meet the group at its barrier, then all send /set_friend for the round's pair at once,
        each with a group of its own choosing."""
        try:
            self.load.barriers[self.group].wait(timeout=max(0.1, deadline - time.monotonic()))
        except threading.BrokenBarrierError:
            self.owner_token = None  # the others are done: no more contests
            return
        friends = self.load.contest_friends[self.group]
        friend = friends[self.contest_round % len(friends)]
        chosen = self.rng.choice("1234")
        answer = self.http.call(
            "POST /set_friend (contested)",
            {"email": self.owner, "femail": friend, "group": chosen},
            self.owner_token,
        )
        self.load.ledger.set_friend(
            (self.owner, friend), chosen, answer is not None, round_number=self.contest_round
        )
        self.contest_round += 1

    def login(self):
        self.token = self.http.login(self.me, DEMO_PASSWORD) or self.token

    def get_friend_post(self):
        params = {"email": self.me, "limit": 20}
        if self.rng.random() < 0.3:
            params["group"] = self.rng.choice("1234")
        answer = self.http.call("GET /get_friend_post", params, self.token)
        if answer:
            self.post_ids += [post["id"] for post in answer["data"]]
            del self.post_ids[:-100]

    def get_data(self):
        params = {"email": self.me, "start": self.rng.randrange(50), "limit": 20}
        if self.rng.random() < 0.3:
            params["like"] = self.rng.choice(SEARCH_TERMS)
        self.http.call("GET /get_data", params, self.token)

    def recommend(self):
        self.http.call("GET /recommend", {"email": self.me}, self.token)

    def put_post(self):
        ledger = self.load.ledger
        message = f"{ledger.prefix}{self.number}-{self.done}: {self.rng.choice(SEARCH_TERMS)}"
        ledger.wrote("posts", message, None)
        params = {"email": self.me, "message": message, "time": time.time_ns() // 1_000_000}
        answer = self.http.call("POST /putPost", params, self.token)
        if answer and answer["status"] == TOO_MANY_REQUESTS:
            ledger.wrote("posts", message, REFUSED)
        elif answer:
            ledger.wrote("posts", message, answer["data"]["id"])
            self.post_ids.append(answer["data"]["id"])

    def comment(self):
        if not self.post_ids:
            return  # no post seen yet to comment on
        ledger = self.load.ledger
        text = f"{ledger.prefix}{self.number}-{self.done}"
        ledger.wrote("comments", text, None)
        params = {"email": self.me, "id": self.rng.choice(self.post_ids), "comment": text}
        answer = self.http.call("POST /comment", params, self.token)
        if answer and answer["status"] == TOO_MANY_REQUESTS:
            ledger.wrote("comments", text, REFUSED)
        elif answer:
            ledger.wrote("comments", text, answer["data"]["id"])

    def set_friend(self):
        friend = self.rng.choice([email for email in self.load.users if email != self.me])
        chosen = self.rng.choice("1234")
        params = {"email": self.me, "femail": friend, "group": chosen}
        answer = self.http.call("POST /set_friend", params, self.token)
        self.load.ledger.set_friend((self.me, friend), chosen, answer is not None)


# (weight, action) of the mix a client picks from; contests come on top.
ACTIONS = [
    (25, LoadClient.get_friend_post),
    (15, LoadClient.get_data),
    (10, LoadClient.recommend),
    (15, LoadClient.put_post),
    (15, LoadClient.comment),
    (15, LoadClient.set_friend),
    (1, LoadClient.login),
]


def print_report(stats, login_seconds, mix_seconds):
    logins = len(stats.latencies["POST /login (start)"])
    total = sum(len(samples) for samples in stats.latencies.values()) - logins
    print(f"\nlog-in: {logins} logins in {login_seconds:.1f} s, {logins / login_seconds:.1f}/s")
    print(
        f"the mix: {total} responses in {mix_seconds:.1f} s: {total / mix_seconds:.1f} requests/s\n"
    )
    rows = []
    for name in SUCCESS:
        samples = stats.latencies.get(name)
        if not samples:
            continue
        seconds = login_seconds if name == "POST /login (start)" else mix_seconds
        rows.append(
            [name, len(samples), len(samples) / seconds]
            + [percentile(samples, fraction) for fraction in (0.5, 0.95, 0.99)]
            + [stats.non_2xx[name]]
        )
    print_table(
        [
            ("endpoint", "30"),
            ("requests", ">8"),
            ("req/s", ">7.1f"),
            ("p50 ms", ">8.1f"),
            ("p95 ms", ">8.1f"),
            ("p99 ms", ">8.1f"),
            ("non-2xx", ">8"),
        ],
        rows,
    )
    print(f"\nnon-2xx responses: {sum(stats.non_2xx.values())}")
    if stats.limited:
        print(f"refused by the limits on posts and comments (429): {dict(stats.limited)}")
    # The clients share the machine with the server: a busy machine slows both.
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} after the mix")


def verify_database(ledger):
    """Compare what the server acknowledged with what the database holds; the problems."""
    from feed.models import Comment, Post
    from friends.models import Friendship

    posts = Post.objects.filter(msg__startswith=ledger.prefix).values_list("id", "msg")
    comments = Comment.objects.filter(text__startswith=ledger.prefix).values_list("id", "text")
    owners = {owner for owner, _ in ledger.friend_rounds}
    friendships = Friendship.objects.filter(owner__email__in=owners).values_list(
        "owner__email", "friend__email", "group"
    )
    contested = sum(
        1 for rounds in ledger.friend_rounds.values() if any(len(r) > 1 for _, r in rounds)
    )
    problems = (
        check_unique_writes("post", ledger.posts, list(posts))
        + check_unique_writes("comment", ledger.comments, list(comments))
        + check_friendships(ledger.friend_rounds, list(friendships))
    )
    print(
        f"\nChecked in the database: {acknowledged(ledger.posts)} posts"
        f" and {acknowledged(ledger.comments)} comments acknowledged,"
        f" {len(ledger.friend_rounds)} friendship pairs written ({contested} contested)."
    )
    return problems


def acknowledged(sent):
    return sum(isinstance(answer, int) for answer in sent.values())


def check_unique_writes(kind, sent, stored):
    """`sent` maps each unique text to the id the server acknowledged (None: no answer; REFUSED:
    a 9429); `stored` is the (id, text) rows holding those texts. Each text is stored at most
    once, an acknowledged one exactly once under its id, a refused one not at all."""
    problems = []
    ids_by_text = defaultdict(list)
    for row_id, text in stored:
        ids_by_text[text].append(row_id)
    for text, acknowledged_id in sent.items():
        ids = ids_by_text.get(text, [])
        if len(ids) > 1:
            problems.append(f"{kind} {text!r} stored {len(ids)} times (ids {sorted(ids)})")
        elif acknowledged_id == REFUSED and ids:
            problems.append(f"{kind} {text!r} refused with 9429 but stored as {ids[0]}")
        elif acknowledged_id not in (None, REFUSED) and ids != [acknowledged_id]:
            found = f"stored as {ids[0]}" if ids else "not stored"
            problems.append(f"{kind} {text!r} acknowledged as id {acknowledged_id} but {found}")
    return problems


def check_friendships(rounds_by_pair, stored):
    """`rounds_by_pair` maps (owner, friend) to its rounds of concurrent requests, oldest first,
    each a list of (group, acknowledged); `stored` is the (owner, friend, group) rows of those
    owners. A pair with an acknowledged request has exactly one row, in a group sent by the
    last round with an acknowledged request or a later one (requests without an answer may or
    may not have been applied)."""
    problems = []
    groups_by_pair = defaultdict(list)
    for owner, friend, group in stored:
        groups_by_pair[(owner, friend)].append(group)
    for pair, rounds in rounds_by_pair.items():
        requests = [requests for _, requests in rounds]
        acknowledged = [i for i, round_ in enumerate(requests) if any(ok for _, ok in round_)]
        groups = groups_by_pair.get(pair, [])
        if len(groups) > 1:
            problems.append(f"friendship {pair} has {len(groups)} rows")
        if not acknowledged:
            continue
        allowed = {group for round_ in requests[acknowledged[-1] :] for group, _ in round_}
        if not groups:
            problems.append(f"friendship {pair} acknowledged but not stored")
        elif len(groups) == 1 and groups[0] not in allowed:
            problems.append(
                f"friendship {pair} is in group {groups[0]}, not one of {sorted(allowed)}"
            )
    return problems


if __name__ == "__main__":
    main()
