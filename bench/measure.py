"""The benchmark's worker process: one scale, one database (bench/run.py starts it; in-process, it
is timed in turns with the other scales' workers, see Turns and run.py)."""

import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import django
from django.db import connections

from bench.common import VAR, summarize
from feed.demo import DEMO_CITIES, DEMO_EMAIL, DEMO_PASSWORD


class DatabaseTime:
    """The time spent inside the database while the block runs, on every alias (replicas
    included): each statement's execute or executemany, and the fetches of its rows, which on
    SQLite compute the rows after the first (on PostgreSQL they convert rows that execute
    brought, or read a server-side cursor's next chunk). `ms` is their sum; `statements` counts
    the statements sent (an executemany is one; a COMMIT, which Django's query log lists, is
    not a statement), the table's query count."""

    def __init__(self):
        self.seconds = 0.0
        self.statements = 0

    @property
    def ms(self):
        return self.seconds * 1000

    def __enter__(self):
        self._wrappers = contextlib.ExitStack()
        for connection in connections.all():
            self._wrappers.enter_context(connection.execute_wrapper(self._timed_execute))
        return self

    def __exit__(self, *exception):
        return self._wrappers.__exit__(*exception)

    def _timed_execute(self, execute, sql, params, many, context):
        self.statements += 1
        started = time.perf_counter()
        try:
            result = execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
        # Django has no hook for fetches: its cursor reads them from the DB-API cursor it wraps,
        # here one that times them.
        cursor = context["cursor"]
        if not isinstance(cursor.cursor, _TimedFetches):
            cursor.cursor = _TimedFetches(cursor.cursor, self)
        return result


class _TimedFetches:
    """A DB-API cursor whose fetches add to a DatabaseTime; all else is the wrapped cursor's."""

    def __init__(self, cursor, database_time):
        self._wrapped, self._database_time = cursor, database_time

    def __getattr__(self, name):
        return getattr(self._wrapped, name)

    def __iter__(self):
        rows = iter(self._wrapped)
        while (row := self._timed(next, rows, None)) is not None:
            yield row

    def fetchone(self):
        return self._timed(self._wrapped.fetchone)

    def fetchmany(self, *size):
        return self._timed(self._wrapped.fetchmany, *size)

    def fetchall(self):
        return self._timed(self._wrapped.fetchall)

    def _timed(self, fetch, *args):
        started = time.perf_counter()
        try:
            return fetch(*args)
        finally:
            self._database_time.seconds += time.perf_counter() - started


def run_worker(args):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialsite.settings")
    django.setup()
    from django.core.cache import caches
    from django.core.cache.backends.db import DatabaseCache
    from django.core.management import call_command

    from accounts.models import User

    scale = args.worker
    seeded = args.reuse and _is_seeded(scale)
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    if isinstance(caches["default"], DatabaseCache):
        # the bench database's own table: the rate limits an earlier run left (--reuse) would
        # refuse this run's posts and comments
        caches["default"].clear()
    if not seeded:
        started = time.perf_counter()
        call_command(
            "seed_demo",
            users=scale,
            friends=args.friends,
            posts=args.posts,
            comments=args.comments,
            flush=True,
            stdout=sys.stderr,
        )
        print(f"seeded {scale:,} users in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    seed = (
        f"{User.objects.count():,} users, {args.friends} friends, {args.posts} posts, "
        f"{args.comments} comment(s) each"
    )
    if args.http:
        result = measure_http(args)
    else:
        turns = Turns(*args.turns, chunk=args.chunk) if args.turns else None
        result = {"endpoints": measure_in_process(args.calls, turns)}
        if turns:
            result["turns"] = turns.log
    result["seed"] = seed
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False))


def _is_seeded(scale):
    from django.db import connection

    from accounts.models import User

    return (
        connection.introspection.table_names() != []
        and "accounts_user" in connection.introspection.table_names()
        and User.objects.count() >= scale
    )


# Posts or comments timed per author: within API.md's limits of 30 posts and 60 comments.
WRITES_PER_AUTHOR = 25
# The users the demo user has blocked before the timing starts (/get_blocks).
BLOCKED_BY_DEMO = 30
# Messages timed per sender in turn: within API.md's limit of 20 per sender in 10 s. The senders
# are the demo user's 5 chat peers (seed_demo): up to 75 timed sends (--calls 72).
WRITES_PER_SENDER = 15


class Scenario:
    """One row of the table: how to make the n-th call, and the business status it expects."""

    def __init__(self, name, method, path, params, expect):
        self.name, self.method, self.path = name, method, path
        self.params, self.expect = params, expect


def scenarios(world):
    """Every endpoint of docs/API.md, with variants that exercise its different query shapes."""
    demo, other = world["demo"], world["other"]
    stranger = world["stranger"]
    fresh = world["fresh_email"]
    return [
        Scenario("GET /healthz", "get", "/healthz", lambda n: {}, 0),
        Scenario("POST /register1", "post", "/register1", lambda n: {"email": fresh(n)}, 1004),
        Scenario("POST /check_email", "post", "/check_email", world["pending_code"], 1011),
        Scenario("POST /register2", "post", "/register2", world["registration"], 1005),
        Scenario("GET /get_yzm", "get", "/get_yzm", lambda n: {"uuid": f"bench-{n}"}, 2000),
        Scenario(
            "POST /login",
            "post",
            "/login",
            lambda n: {"email": demo, "pass": world["password"]},
            1002,
        ),
        Scenario("POST /logout", "post", "/logout", world["logout"], 1012),
        Scenario("POST /logout (all=1)", "post", "/logout", world["logout_everywhere"], 1012),
        Scenario("POST /forget1", "post", "/forget1", lambda n: {"email": stranger(n)}, 1013),
        Scenario(
            "POST /forget1 (no account)", "post", "/forget1", lambda n: {"email": fresh(n)}, 1013
        ),
        Scenario("POST /forget2", "post", "/forget2", world["password_reset"], 1014),
        Scenario(
            "POST /reset",
            "post",
            "/reset",
            lambda n: {"email": demo, "introduction": f"bench {n}"},
            1002,
        ),
        Scenario("GET /get_info (self)", "get", "/get_info", lambda n: {"email": demo}, 6001),
        Scenario("GET /get_info (other)", "get", "/get_info", lambda n: {"email": other}, 6001),
        Scenario(
            "GET /set_friend",
            "get",
            "/set_friend",
            lambda n: {"email": demo, "femail": other, "group": str(n % 4 + 1)},
            5003,
        ),
        Scenario(
            "GET /rm_friend",
            "get",
            "/rm_friend",
            lambda n: {"email": demo, "femail": stranger(n)},
            5004,
        ),
        Scenario("GET /get_friends", "get", "/get_friends", lambda n: {"email": demo}, 6001),
        Scenario(
            "GET /is_friend", "get", "/is_friend", lambda n: {"email": demo, "femail": other}, 6001
        ),
        Scenario("GET /get_followers", "get", "/get_followers", lambda n: {"email": demo}, 6001),
        Scenario("GET /get_blocks", "get", "/get_blocks", lambda n: {"email": demo}, 6001),
        Scenario(
            "POST /block", "post", "/block", lambda n: {"email": demo, "femail": stranger(n)}, 5005
        ),
        Scenario(
            "POST /unblock",
            "post",
            "/unblock",
            lambda n: {"email": demo, "femail": stranger(n)},
            5006,
        ),
        Scenario(
            "GET /get_data",
            "get",
            "/get_data",
            lambda n: {"email": demo, "start": n % 50, "limit": 20},
            1008,
        ),
        Scenario(
            "GET /get_data?username=",
            "get",
            "/get_data",
            lambda n: {"email": demo, "start": 0, "limit": 20, "username": "ing"},
            1008,
        ),
        Scenario(
            "GET /get_data?like=",
            "get",
            "/get_data",
            lambda n: {"email": demo, "start": 0, "limit": 20, "like": "篮球"},
            1008,
        ),
        Scenario(
            "GET /get_data?sex=",
            "get",
            "/get_data",
            lambda n: {"email": demo, "start": 0, "limit": 20, "sex": "女"},
            1008,
        ),
        Scenario(
            "GET /get_data?femail=",
            "get",
            "/get_data",
            lambda n: {"email": demo, "start": 0, "limit": 20, "femail": other},
            1008,
        ),
        Scenario(
            "GET /get_data?location=",
            "get",
            "/get_data",
            lambda n: {"email": demo, "start": 0, "limit": 20, "location": DEMO_CITIES[0]},
            1008,
        ),
        Scenario(
            "GET /get_data?age1=&age2=",
            "get",
            "/get_data",
            lambda n: {"email": demo, "start": 0, "limit": 20, "age1": 25, "age2": 35},
            1008,
        ),
        Scenario(
            "GET /get_data?age1= (narrow)",
            "get",
            "/get_data",
            lambda n: {"email": demo, "start": 0, "limit": 20, "age1": 60},
            1008,
        ),
        Scenario(
            "GET /get_data?order=newest",
            "get",
            "/get_data",
            lambda n: {"email": demo, "start": n % 50, "limit": 20, "order": "newest"},
            1008,
        ),
        Scenario("GET /recommend", "get", "/recommend", lambda n: {"email": demo}, 1008),
        Scenario(
            "GET /recommend?start=",
            "get",
            "/recommend",
            lambda n: {"email": demo, "start": 20},
            1008,
        ),
        Scenario(
            "POST /putPost",
            "post",
            "/putPost",
            world["new_post"],
            3001,
        ),
        Scenario("GET /getPost?email=", "get", "/getPost", lambda n: {"email": other}, 3002),
        Scenario(
            "GET /getPost?oldTime=",
            "get",
            "/getPost",
            lambda n: {"oldTime": world["recent_ms"]},
            3002,
        ),
        Scenario(
            "GET /delPost",
            "get",
            "/delPost",
            world["old_post"],
            3005,
        ),
        Scenario(
            "POST /comment",
            "post",
            "/comment",
            world["new_comment"],
            3007,
        ),
        Scenario(
            "GET /get_comments", "get", "/get_comments", lambda n: {"id": world["post_id"]}, 3002
        ),
        # After /comment: deletes the comments it made, as the post's author.
        Scenario("POST /delComment", "post", "/delComment", world["made_comment"], 3010),
        Scenario("POST /like", "post", "/like", world["friend_post_like"], 3008),
        Scenario("POST /unlike", "post", "/unlike", world["friend_post_like"], 3009),
        Scenario(
            "GET /get_post_detail",
            "get",
            "/get_post_detail",
            lambda n: {"id": world["post_id"]},
            3002,
        ),
        Scenario(
            "GET /get_friend_post", "get", "/get_friend_post", lambda n: {"email": demo}, 3002
        ),
        Scenario(
            "GET /get_friend_post?group=",
            "get",
            "/get_friend_post",
            lambda n: {"email": demo, "group": "2"},
            3002,
        ),
        Scenario(
            "GET /get_friend_post?self=1",
            "get",
            "/get_friend_post",
            lambda n: {"email": demo, "self": "1"},
            3002,
        ),
        Scenario(
            "GET /get_friend_post?before=",
            "get",
            "/get_friend_post",
            lambda n: {"email": demo, "before": world["recent_ms"]},
            3002,
        ),
        Scenario(
            "POST /report",
            "post",
            "/report",
            lambda n: {"email": demo, "post": world["post_id"], "reason": "bench"},
            7001,
        ),
        Scenario("POST /send_msg", "post", "/send_msg", world["new_message"], 8001),
        Scenario("GET /get_msgs", "get", "/get_msgs", lambda n: world["chat"], 8005),
        Scenario(
            "GET /get_msgs?after_id=",
            "get",
            "/get_msgs",
            lambda n: {**world["chat"], "after_id": world["first_message_id"]},
            8005,
        ),
        Scenario("GET /get_chats", "get", "/get_chats", lambda n: {"email": demo}, 8005),
        Scenario(
            "POST /read_msgs",
            "post",
            "/read_msgs",
            lambda n: {**world["chat"], "id": world["last_message_id"]},
            8006,
        ),
        Scenario("POST /recall_msg", "post", "/recall_msg", world["recalled_message"], 8007),
        Scenario("GET /get_notices", "get", "/get_notices", lambda n: {"email": demo}, 7002),
        Scenario(
            "GET /get_notices?unread=1",
            "get",
            "/get_notices",
            lambda n: {"email": demo, "unread": "1"},
            7002,
        ),
        Scenario("GET /get_badges", "get", "/get_badges", lambda n: {"email": demo}, 7002),
        Scenario("POST /read_notices", "post", "/read_notices", lambda n: {"email": demo}, 7003),
        # Last: it deletes seeded strangers, with their posts, comments and friendships.
        Scenario("POST /delete_account", "post", "/delete_account", world["deletion"], 1015),
    ]


def build_world(calls):
    """The accounts and rows the scenarios use, made before anything is timed."""
    from django.core import signing
    from django.utils import timezone

    from accounts import services as account_services
    from accounts.models import AuthToken, EmailCode, User
    from feed.models import Post
    from friends import services as friend_services
    from friends.models import Friendship

    demo = User.objects.get(email=DEMO_EMAIL)
    listed = set(Friendship.objects.filter(owner=demo).values_list("friend_id", flat=True))
    other = User.objects.filter(pk__in=listed).order_by("pk").first()
    strangers = list(
        User.objects.exclude(pk__in=listed | {demo.pk})
        .filter(is_active=True)
        .order_by("-pk")
        .values_list("email", flat=True)[: calls + 10]
    )
    # A full page of /get_blocks: the newest accounts beyond the strangers, blocked as /block
    # does (again with --reuse: a block is made once).
    for blocked in (
        User.objects.exclude(pk__in=listed | {demo.pk})
        .exclude(email__in=strangers)
        .filter(is_active=True)
        .order_by("-pk")[:BLOCKED_BY_DEMO]
    ):
        friend_services.block(demo, blocked)
    post = Post.objects.filter(author=other).order_by("-time").first()
    recent_ms = int((timezone.now().timestamp() - 7 * 86400) * 1000)
    run = int(time.time())

    def fresh_email(n):
        return f"bench-{run}-{n}@bench.example.com"

    code = "246810"
    codes = itertools.count()

    def pending_code(n):
        email = f"code-{run}-{next(codes)}@bench.example.com"
        EmailCode.objects.create(
            email=email,
            code_hash=EmailCode.hash_code(email, code),
            expires_at=timezone.now() + account_services.CODE_TTL,
        )
        return {"email": email, "value": code}

    registrations = itertools.count()

    def registration(n):
        email = f"new-{run}-{next(registrations)}@bench.example.com"
        rid = signing.dumps({"email": email}, salt=account_services.RID_SALT)
        return {"email": email, "rid": rid, "pass": "bench-password-123"}

    # API.md allows 30 posts and 60 comments per user in 10 minutes: the timed posts and comments
    # are written by the demo user, then by other users, WRITES_PER_AUTHOR each.
    others = User.objects.filter(is_active=True).exclude(pk=demo.pk).exclude(email__in=strangers)
    authors = [demo, *others.order_by("pk")[: (calls + 3) // WRITES_PER_AUTHOR]]
    # Each author's token is issued when their first write is prepared (outside the timing):
    # one issued here would be among the oldest that the /login scenario's logins of the demo
    # user revoke (a user keeps 20 live tokens), and its writes would get 9401.
    author_tokens = {}

    def author(written):
        chosen = authors[written // WRITES_PER_AUTHOR % len(authors)]
        if chosen.pk not in author_tokens:
            author_tokens[chosen.pk] = AuthToken.objects.issue(chosen)
        return {"__token__": author_tokens[chosen.pk], "email": chosen.email}

    # /delPost deletes, oldest first, the posts that /putPost made. Their times are milliseconds
    # from now on, one apart, so that each names one post; all are in the past in a few seconds
    # (API.md refuses a time more than 10 minutes ahead).
    posted = []
    now_ms = int(time.time() * 1000)

    def new_post(n):
        posted.append({**author(len(posted)), "time": now_ms + n})
        return {**posted[-1], "message": f"bench post {n}"}

    def old_post(n):
        return posted.pop(0)

    comments = itertools.count()

    def new_comment(n):
        return {**author(next(comments)), "id": post.pk, "comment": f"bench {n}"}

    def logout(n):
        return {"__token__": AuthToken.objects.issue(demo)}

    return {
        **account_lifecycle_world(strangers, code),
        **chat_world(demo, run),
        **feed_interactions_world(demo, listed, post, calls),
        "demo": demo.email,
        "other": other.email,
        "stranger": lambda n: strangers[n % len(strangers)],
        "fresh_email": fresh_email,
        "pending_code": pending_code,
        "registration": registration,
        "logout": logout,
        "new_post": new_post,
        "old_post": old_post,
        "new_comment": new_comment,
        "password": DEMO_PASSWORD,
        "post_id": post.pk,
        "recent_ms": recent_ms,
    }


def account_lifecycle_world(strangers, code):
    """The calls of /logout all=1, /forget2 and /delete_account: on seeded strangers, not the demo
    user, whose token and password the other scenarios use."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts import services as account_services
    from accounts.models import AuthToken, PasswordResetCode, User

    def logout_everywhere(n):
        user = User.objects.get(email=strangers[n % len(strangers)])
        return {"__token__": AuthToken.objects.issue(user), "all": "1"}

    def password_reset(n):
        user = User.objects.get(email=strangers[n % len(strangers)])
        PasswordResetCode.objects.update_or_create(
            user=user,
            defaults={
                "code_hash": PasswordResetCode.hash_code(user.email, code),
                "failed_attempts": 0,
                "expires_at": timezone.now() + account_services.CODE_TTL,
            },
        )
        return {"email": user.email, "value": code, "pass": "bench-password-123"}

    doomed = itertools.count()
    doomed_password = "bench-password-123"
    doomed_hash = make_password(doomed_password)

    def deletion(n):
        user = User.objects.get(email=strangers[next(doomed) % len(strangers)])
        User.objects.filter(pk=user.pk).update(password=doomed_hash)
        return {
            "__token__": AuthToken.objects.issue(user),
            "email": user.email,
            "pass": doomed_password,
        }

    return {
        "logout_everywhere": logout_everywhere,
        "password_reset": password_reset,
        "deletion": deletion,
    }


def feed_interactions_world(demo, listed, post, calls):
    """The calls of /delComment (the comments /comment made, deleted by the post's author, oldest
    first) and of /like and /unlike (the demo user's friends' newest posts, one per call, liked
    and then unliked in the same order)."""
    from accounts.models import AuthToken
    from feed.models import Comment, Post

    post_author_token = []

    def made_comment(n):
        """The oldest comment /comment made that is left, deleted by the post's author."""
        if not post_author_token:
            post_author_token.append(AuthToken.objects.issue(post.author))
        comment = Comment.objects.filter(post=post, text__startswith="bench ").order_by("id")
        return {
            "__token__": post_author_token[0],
            "email": post.author.email,
            "id": comment.values_list("id", flat=True).first(),
        }

    friend_posts = list(
        Post.objects.filter(author_id__in=listed)
        .order_by("-time", "-id")
        .values_list("id", flat=True)[: calls + 10]
    )

    def friend_post_like(n):
        return {"email": demo.email, "id": friend_posts[n % len(friend_posts)]}

    return {"made_comment": made_comment, "friend_post_like": friend_post_like}


def chat_world(demo, run):
    """The chat's part of the world. seed_demo gives the demo user conversations with mutual
    friends; the timed messages are sent by those friends to the demo user, WRITES_PER_SENDER
    each in turn, and /recall_msg recalls them (within 2 minutes of sending), oldest first."""
    from accounts.models import AuthToken, User
    from chat.models import Message, Participant

    chat_peers = list(
        User.objects.filter(pk__in=Participant.objects.filter(user=demo).values("peer")).order_by(
            "pk"
        )
    )
    peer = chat_peers[0]
    peer_tokens = {sender.pk: AuthToken.objects.issue(sender) for sender in chat_peers}
    conversation = Participant.objects.get(user=demo, peer=peer).conversation_id
    in_conversation = Message.objects.filter(conversation=conversation).order_by("id")
    sent = []

    def new_message(n):
        sender = chat_peers[n // WRITES_PER_SENDER % len(chat_peers)]
        text = f"bench {run} message {n}"
        sent.append((sender, text))
        token = peer_tokens[sender.pk]
        return {"__token__": token, "email": sender.email, "femail": demo.email, "msg": text}

    def recalled_message(n):
        sender, text = sent.pop(0)
        stored = Message.objects.get(sender=sender, text=text)
        return {"__token__": peer_tokens[sender.pk], "email": sender.email, "id": stored.pk}

    return {
        "chat": {"email": demo.email, "femail": peer.email},
        "first_message_id": in_conversation.values_list("pk", flat=True).first(),
        "last_message_id": in_conversation.reverse().values_list("pk", flat=True).first(),
        "new_message": new_message,
        "recalled_message": recalled_message,
    }


class Alone:
    """A worker timed by itself, every scenario's calls in one go (measure_in_process's default:
    the suite's tests, which call it without bench/run.py)."""

    chunk = None

    def ready(self, plan):
        pass

    def turn(self, name, index):
        return contextlib.nullcontext()


class Turns:
    """The worker's side of bench/run.py's turns, on two pipes of its own (the file descriptors
    `--turns GO,DONE` names: nothing the worker prints on stdout or stderr can break them).

    Once its world is built it writes `ready <plan>` on DONE, the plan being the JSON list of
    its turns, [scenario, chunk index] each; then, before each chunk of `chunk` calls of a
    scenario (warm-up calls included), it blocks until run.py writes `go` on GO, and after it
    writes `done [scenario, chunk index]`. `log` keeps each turn's start and end
    (time.monotonic(), one clock for every process on the machine)."""

    def __init__(self, go_fd, done_fd, chunk):
        self._go = os.fdopen(go_fd, "r")
        self._done = os.fdopen(done_fd, "w", buffering=1)
        self.chunk = chunk
        self.log = []

    def ready(self, plan):
        self._done.write(f"ready {json.dumps(plan, ensure_ascii=False)}\n")

    @contextlib.contextmanager
    def turn(self, name, index):
        line = self._go.readline()
        if line != "go\n":  # "" when run.py is gone
            raise SystemExit(f"bench worker: expected go from bench/run.py, got {line!r}")
        started = time.monotonic()
        yield
        self.log.append([name, index, started, time.monotonic()])
        self._done.write(f"done {json.dumps([name, index], ensure_ascii=False)}\n")


WARM_UP_CALLS = 3


def measure_in_process(calls, turns=None):
    """Time every scenario `calls` times after WARM_UP_CALLS calls, in chunks of `turns.chunk`
    calls, each when `turns` gives this worker its turn (bench/run.py); all at once without."""
    from django.test import Client

    turns = turns or Alone()
    world = build_world(calls)
    client = Client()
    token = client.post("/login", {"email": DEMO_EMAIL, "pass": DEMO_PASSWORD}).json()["data"][
        "token"
    ]
    rounds = calls + WARM_UP_CALLS
    chunk = turns.chunk or rounds
    chunks = range(0, rounds, chunk)
    every = scenarios(world)
    turns.ready([[scenario.name, index] for scenario in every for index in range(len(chunks))])
    results = {}
    counter = itertools.count()
    for scenario in every:
        samples, database_ms, queries, failures = [], [], 0, 0
        for index, first in enumerate(chunks):
            with turns.turn(scenario.name, index):
                for round_number in range(first, min(first + chunk, rounds)):
                    response, elapsed, database = _timed_call(
                        client, scenario, next(counter), token
                    )
                    status = response.json().get("status")
                    if round_number >= WARM_UP_CALLS:
                        samples.append(elapsed)
                        database_ms.append(database.ms)
                        queries = max(queries, database.statements)
                        failures += status != scenario.expect
                    elif status != scenario.expect:
                        print(
                            f"{scenario.name}: expected {scenario.expect}, got {response.json()}",
                            file=sys.stderr,
                        )
        results[scenario.name] = {
            "queries": queries,
            "failures": failures,
            **summarize(samples),
            "db_ms": round(statistics.median(database_ms), 3),
        }
        if scenario.path == "/login" and status == scenario.expect:
            # Those were logins of the demo user, whose oldest tokens beyond 20 they revoked
            # (API.md, "Authentication"): go on with the newest.
            token = response.json()["data"]["token"]
    return results


def _timed_call(client, scenario, n, token):
    """The scenario's n-th call: its response, its milliseconds and its DatabaseTime."""
    params = dict(scenario.params(n))
    call_token = params.pop("__token__", token)
    headers = {
        "HTTP_AUTHORIZATION": f"Bearer {call_token}",
        "REMOTE_ADDR": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
    }
    send = getattr(client, scenario.method)
    # Queries are counted by DatabaseTime's wrapper, not by Django's CaptureQueriesContext: its
    # debug cursor formats every statement with its parameters (on SQLite with one more query,
    # for the quoting) inside the timed call, 2 ms of a 4 ms timeline.
    with DatabaseTime() as database:
        started = time.perf_counter()
        response = send(scenario.path, params, **headers)
        elapsed = (time.perf_counter() - started) * 1000
    return response, elapsed, database


# Every read, in each variant. The writes stay in-process: they need per-call state (fresh
# emails, sign-up codes, the posts to delete) and a client address per call for the limits.
HTTP_READS = [
    "GET /healthz",
    "GET /get_info (self)",
    "GET /get_info (other)",
    "GET /get_friends",
    "GET /is_friend",
    "GET /get_followers",
    "GET /get_blocks",
    "GET /get_data",
    "GET /get_data?username=",
    "GET /get_data?like=",
    "GET /get_data?sex=",
    "GET /get_data?femail=",
    "GET /get_data?location=",
    "GET /get_data?age1=&age2=",
    "GET /get_data?age1= (narrow)",
    "GET /get_data?order=newest",
    "GET /recommend",
    "GET /recommend?start=",
    "GET /getPost?email=",
    "GET /getPost?oldTime=",
    "GET /get_comments",
    "GET /get_post_detail",
    "GET /get_friend_post",
    "GET /get_friend_post?group=",
    "GET /get_friend_post?self=1",
    "GET /get_friend_post?before=",
    "GET /get_msgs",
    "GET /get_msgs?after_id=",
    "GET /get_chats",
    "GET /get_notices",
    "GET /get_notices?unread=1",
    "GET /get_badges",
]


def measure_http(args):
    """Start gunicorn on this database, as `make run` does, and hit read endpoints with
    --concurrency clients."""
    from django.core.management import call_command
    from django.db import connection

    world = build_world(args.calls)
    call_command("collectstatic", interactive=False, verbosity=0)
    connection.close()
    workers = int(os.environ.get("WORKERS", "2"))
    base = f"http://127.0.0.1:{args.port}"
    # As `make run`: SERVER (asgi by default, or wsgi) picks the stack, beside a private Valkey.
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "socialsite.embedded_valkey",
            "--socket",
            str(VAR / f"valkey-{args.port}.sock"),
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:socialsite.gunicorn_config",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--log-level",
            "warning",
        ],
        env=os.environ.copy(),
    )
    try:
        _wait_until_up(base, server)
        body = urllib.parse.urlencode({"email": DEMO_EMAIL, "pass": DEMO_PASSWORD}).encode()
        with urllib.request.urlopen(f"{base}/login", data=body, timeout=10) as response:
            token = json.load(response)["data"]["token"]
        endpoints = {}
        for scenario in scenarios(world):
            if scenario.name in HTTP_READS:
                endpoints[scenario.name] = _load(base, scenario, token, args)
        return {
            "concurrency": args.concurrency,
            "workers": workers,
            "server": os.environ.get("SERVER", "asgi"),
            "endpoints": endpoints,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_until_up(base, server):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz within 30 s")


def _load(base, scenario, token, args):
    """Calls a failure any answer that is not 2xx or lacks the scenario's business status."""
    latencies, failures = [], [0]
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds

    def client(number):
        n = number * 1_000_000
        while time.monotonic() < deadline:
            query = urllib.parse.urlencode(scenario.params(n))
            n += 1
            request = urllib.request.Request(
                f"{base}{scenario.path}?{query}", headers={"Authorization": f"Bearer {token}"}
            )
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    ok = json.load(response).get("status") == scenario.expect
            except (OSError, ValueError):  # an HTTP error status, a dropped connection, not JSON
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                failures[0] += not ok

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"rps": round(len(latencies) / wall, 1), "failures": failures[0], **summarize(latencies)}
