"""The friends' timeline /get_friend_post (with one's own posts: `self=1`), the comment list inside
posts, and the query budget of every feed list (/getPost, /get_friend_post, /get_comments) and of
/get_post_detail."""

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from feed.models import Comment, Like, Post, PostImage
from friends.models import Friendship, Group
from tests.factories import POST_KEYS, befriend, block, make_comments, make_post

pytestmark = pytest.mark.django_db


def timeline(client, **params):
    response = client.get("/get_friend_post", params)
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["msg"]) == (3002, "成功")
    return body["data"]


def ids(posts):
    return [post["id"] for post in posts]


@pytest.fixture
def friends(make_user, user):
    """Three users in alice's list, in groups 1, 2 and 3."""
    people = [make_user(username=f"friend{group}") for group in "123"]
    for person, group in zip(people, "123", strict=True):
        befriend(user, person, group)
    return people


class TestFriendPost:
    def test_posts_of_listed_users_newest_by_time_then_id(self, api, user, friends, make_user):
        stranger = make_user()
        follower = make_user()
        befriend(follower, user)  # lists alice; alice does not list them
        first_at_20 = make_post(friends[0], time=20)
        at_30 = make_post(friends[1], time=30)
        second_at_20 = make_post(friends[2], time=20)
        at_10 = make_post(friends[0], time=10)
        make_post(user, time=25)
        make_post(stranger, time=26)
        make_post(follower, time=27)
        data = timeline(api, email="ALICE@example.com")
        assert ids(data) == [at_30.pk, second_at_20.pk, first_at_20.pk, at_10.pk]
        assert set(data[0]) == POST_KEYS
        assert data[0]["email"] == friends[1].email
        assert data[0]["name"] == data[0]["username"] == "friend2"

    def test_an_empty_list(self, api, user):
        make_post(user)
        assert timeline(api, email=user.email) == []

    def test_paging_and_before(self, api, user, friends):
        Post.objects.bulk_create(
            Post(author=friends[number % 3], time=time, msg="m")
            for number, time in enumerate(range(100, 130))
        )
        newest_first = list(Post.objects.order_by("-time").values_list("pk", flat=True))
        assert ids(timeline(api, email=user.email)) == newest_first[:20]
        assert ids(timeline(api, email=user.email, start=20)) == newest_first[20:]
        assert ids(timeline(api, email=user.email, start=5, limit=3)) == newest_first[5:8]
        # infinite scroll: the page after the post with time 120 starts below 120
        older = timeline(api, email=user.email, before=120, limit=5)
        assert [post["time"] for post in older] == [119, 118, 117, 116, 115]
        assert timeline(api, email=user.email, before=100) == []

    def test_has_more_and_next_tell_whether_and_where_the_list_goes_on(self, api, user, friends):
        Post.objects.bulk_create(Post(author=friends[0], time=t, msg="m") for t in range(14))

        def page(**params):
            return api.get("/get_friend_post", {"email": user.email, **params}).json()

        first = page(limit=7)
        last = first["data"][-1]
        assert (first["has_more"], first["next"]) == (1, {"before": 7, "before_id": last["id"]})
        second = page(limit=7, **first["next"])
        assert [post["time"] for post in second["data"]] == [6, 5, 4, 3, 2, 1, 0]
        assert (second["has_more"], second["next"]) == (0, None)  # exactly full, and the end
        assert (page(limit=14)["has_more"], page(limit=15)["has_more"]) == (0, 0)
        assert page(limit=13)["has_more"] == 1

    def test_following_next_gets_every_post_once_though_many_share_a_time(self, api, user, friends):
        """The attack on the old cursor: a client scrolling with before=<time of the page's last
        post> lost every post that shared that time with it and came after it."""
        Post.objects.bulk_create(
            Post(author=friends[number % 3], time=time, msg="m")
            for number, time in enumerate([600] * 5 + [500] * 45 + [400] * 5 + [500] * 5)
        )
        newest_first = list(Post.objects.order_by("-time", "-id").values_list("pk", flat=True))
        seen, params, pages = [], {"email": user.email, "limit": 7}, 0
        while True:
            body = api.get("/get_friend_post", params).json()
            seen += ids(body["data"])
            pages += 1
            if not body["has_more"]:
                break
            params = {"email": user.email, "limit": 7, **body["next"]}
        assert body["next"] is None
        assert seen == newest_first  # every post, once, in order
        assert pages == 9  # 60 posts, 7 a page

    def test_the_cursor_neither_skips_nor_repeats_when_posts_arrive_meanwhile(
        self, api, user, friends
    ):
        Post.objects.bulk_create(Post(author=friends[0], time=10, msg="m") for _ in range(6))
        first = api.get("/get_friend_post", {"email": user.email, "limit": 3}).json()
        newer = make_post(friends[1], time=10)  # the same time, a higher id: above the cursor
        make_post(friends[2], time=11)
        rest = api.get("/get_friend_post", {"email": user.email, "limit": 3, **first["next"]})
        older = Post.objects.exclude(pk=newer.pk).filter(time=10).order_by("-id")
        assert ids(first["data"]) + ids(rest.json()["data"]) == [p.pk for p in older]

    def test_given_a_cursor_start_is_ignored(self, api, user, friends):
        posts = [make_post(friends[0], time=5) for _ in range(4)]
        cursor = {"before": 5, "before_id": posts[2].pk}
        for start in (0, 1, 100):
            page = timeline(api, email=user.email, start=start, **cursor)
            assert ids(page) == [posts[1].pk, posts[0].pk]
        assert ids(timeline(api, email=user.email, before=6, start=3)) == ids(
            timeline(api, email=user.email, before=6)
        )

    def test_limit_is_clamped_to_100(self, api, user, friends):
        Post.objects.bulk_create(Post(author=friends[0], time=t, msg="m") for t in range(101))
        assert len(timeline(api, email=user.email, limit=500)) == 100

    def test_self_1_adds_the_callers_own_posts(self, api, user, friends, make_user):
        stranger = make_user()
        mine_new, mine_old = make_post(user, time=40), make_post(user, time=10)
        make_post(user, time=50, is_hidden=True)
        friends_post = make_post(friends[0], time=20)
        make_post(stranger, time=30)
        assert ids(timeline(api, email=user.email)) == [friends_post.pk]
        assert ids(timeline(api, email=user.email, self="0")) == [friends_post.pk]
        moments = ids(timeline(api, email=user.email, self="1"))
        assert moments == [mine_new.pk, friends_post.pk, mine_old.pk]
        # with a group only that group's friends, and oneself
        assert ids(timeline(api, email=user.email, self="1", group="2")) == [
            mine_new.pk,
            mine_old.pk,
        ]

    def test_self_1_pages_with_the_cursor_like_the_rest(self, api, user, friends):
        Post.objects.bulk_create(
            Post(author=[user, *friends][number % 4], time=time, msg="m")
            for number, time in enumerate([9] * 12 + [8] * 12 + [7] * 6)
        )
        newest_first = list(Post.objects.order_by("-time", "-id").values_list("pk", flat=True))
        params = {"email": user.email, "self": "1", "limit": 7}
        seen = []
        while True:
            body = api.get("/get_friend_post", params).json()
            seen += ids(body["data"])
            if not body["has_more"]:
                break
            params = {"email": user.email, "self": "1", "limit": 7, **body["next"]}
        assert seen == newest_first
        offsets = [ids(timeline(api, email=user.email, self="1", start=s, limit=7)) for s in (0, 7)]
        assert offsets[0] + offsets[1] == newest_first[:14]

    def test_group(self, api, user, friends):
        posts = {group: make_post(friend) for group, friend in zip("123", friends, strict=True)}
        assert ids(timeline(api, email=user.email, group="2")) == [posts["2"].pk]
        assert timeline(api, email=user.email, group=Group.OTHER) == []
        Friendship.objects.filter(friend=friends[0]).update(group=Group.OTHER)
        assert ids(timeline(api, email=user.email, group="4")) == [posts["1"].pk]

    def test_hidden_deactivated_and_blocked_are_absent(self, api, user, friends, make_user):
        shown = make_post(friends[0], time=1)
        make_post(friends[0], time=2, is_hidden=True)
        make_post(friends[1], time=3)
        User.objects.filter(pk=friends[1].pk).update(is_active=False)
        blocker, blocked = make_user(), make_user()
        for person in (blocker, blocked):
            befriend(user, person)
            make_post(person, time=4)
        block(blocker, user)
        block(user, blocked)
        assert ids(timeline(api, email=user.email)) == [shown.pk]

    @pytest.mark.parametrize("params", [{}, {"email": "nobody@example.com"}, {"group": "1"}])
    def test_missing_or_unknown_email_is_3000(self, api, params):
        response = api.get("/get_friend_post", params)
        assert response.json() == {"status": 3000, "msg": "缺少有效参数"}

    def test_someone_elses_timeline_is_9403(self, api, friends):
        response = api.get("/get_friend_post", {"email": friends[0].email})
        assert response.status_code == 403
        assert response.json() == {"status": 9403, "msg": "无权操作其他用户"}

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"group": "5"}, "group"),
            ({"group": "特别关心"}, "group"),
            ({"before": "yesterday"}, "before"),
            ({"before": "1.5"}, "before"),
            ({"before": "5", "before_id": "5f1d7a9e8b3c2a1d4e5f6a7b"}, "before_id"),
            ({"before": "5", "before_id": "1.5"}, "before_id"),
            ({"before": "5", "before_id": "-1"}, "before_id"),
            ({"before_id": "3"}, "before_id"),  # a post's id among those of one time
            ({"self": "yes"}, "self"),
            ({"self": "2"}, "self"),
            ({"limit": "-1"}, "limit"),
        ],
    )
    def test_malformed_values_are_9400(self, api, user, params, field):
        response = api.get("/get_friend_post", {"email": user.email, **params})
        assert response.status_code == 400
        body = response.json()
        assert body["status"] == 9400
        assert field in body["errors"]

    def test_method_and_token(self, anon, api, user):
        assert anon.get("/get_friend_post", {"email": user.email}).status_code == 401
        response = api.post("/get_friend_post", {"email": user.email})
        assert response.status_code == 405
        assert response["Allow"] == "GET"


class TestCommentList:
    def test_at_most_the_50_latest_oldest_first_with_the_full_count(self, api, user, friends):
        post = make_post(friends[0])
        comments = make_comments(post, friends[1], 120)
        quiet = make_post(friends[0], time=0)
        make_comments(quiet, friends[1], 3)
        newest, second = timeline(api, email=user.email)
        assert newest["comment_count"] == 120
        assert ids(newest["comment_list"]) == [comment.pk for comment in comments[-50:]]
        assert second["comment_count"] == 3
        assert len(second["comment_list"]) == 3

    def test_hidden_deactivated_and_blocked_comments_leave_the_list_and_the_count(
        self, api, user, friends, make_user
    ):
        post = make_post(friends[0])
        shown = make_comments(post, friends[1], 2)
        make_comments(post, friends[1], 60, is_hidden=True)
        make_comments(post, friends[2], 55)
        User.objects.filter(pk=friends[2].pk).update(is_active=False)
        blocker = make_user()
        make_comments(post, blocker, 4)
        block(blocker, user)
        (data,) = timeline(api, email=user.email)
        assert data["comment_count"] == 2
        assert ids(data["comment_list"]) == [comment.pk for comment in shown]

    def test_a_new_comment_shows_up_last(self, api, user, friends):
        post = make_post(friends[0])
        make_comments(post, friends[0], 50)
        response = api.post("/comment", {"email": user.email, "id": post.pk, "comment": "最新"})
        new_id = response.json()["data"]["id"]
        (data,) = timeline(api, email=user.email)
        assert data["comment_count"] == 51
        assert len(data["comment_list"]) == 50
        assert data["comment_list"][-1]["id"] == new_id
        assert data["comment_list"][-1]["comment"] == "最新"


def populate(user, *, friend_count, post_count, comment_count):
    """`friend_count` friends of `user` sharing `post_count` posts, two images each (rows only:
    a list reads no file), and `comment_count` comments spread over the newest posts by every
    friend, who each like every one of the newest 100 posts, as `user` does; all in a few bulk
    INSERTs."""
    User.objects.bulk_create(
        User(email=f"bulk{number}@example.com", username=f"bulk{number}")
        for number in range(friend_count)
    )
    people = list(User.objects.filter(email__startswith="bulk").order_by("pk"))
    Friendship.objects.bulk_create(
        Friendship(owner=user, friend=person, group=Group.values[number % 4])
        for number, person in enumerate(people)
    )
    Post.objects.bulk_create(
        Post(author=people[number % friend_count], time=number, msg=f"post {number}")
        for number in range(post_count)
    )
    PostImage.objects.bulk_create(
        PostImage(post=post, position=position, file=f"posts/{post.pk}-{position}.webp")
        for post in Post.objects.all()
        for position in range(2)
    )
    posts = list(Post.objects.order_by("-time")[:3])
    Comment.objects.bulk_create(
        Comment(post=posts[number % len(posts)], author=people[number % friend_count], text="c")
        for number in range(comment_count)
    )
    liked = list(Post.objects.order_by("-time")[:100])
    Like.objects.bulk_create(
        Like(user=person, post=post) for person in [user, *people] for post in liked
    )
    return posts[0]


# token lookup, its last-use update, the page of posts, the comments of the page, its images
POST_LIST_QUERY_BUDGET = 5
# token lookup, its last-use update, the post, the page of comments
COMMENT_LIST_QUERY_BUDGET = 4
SIZES = [
    pytest.param({"friend_count": 1, "post_count": 1, "comment_count": 0}, id="small"),
    pytest.param({"friend_count": 50, "post_count": 500, "comment_count": 500}, id="large"),
]


@pytest.mark.parametrize("size", SIZES)
class TestQueryBudget:
    def test_friend_post(self, api, user, size, django_assert_max_num_queries):
        populate(user, **size)
        with django_assert_max_num_queries(POST_LIST_QUERY_BUDGET):
            data = timeline(api, email=user.email, limit=100)
        assert len(data) == min(size["post_count"], 100)
        assert sum(post["comment_count"] for post in data) == size["comment_count"]
        assert {(post["like_count"], post["liked"]) for post in data} == {
            (size["friend_count"] + 1, 1)
        }
        assert all(len(post["images"]) == 2 for post in data)

    def test_friend_post_with_ones_own(self, api, user, size, django_assert_max_num_queries):
        populate(user, **size)
        newest = Post.objects.order_by("-time", "-id").first()
        Post.objects.filter(pk=newest.pk).update(author=user)
        with django_assert_max_num_queries(POST_LIST_QUERY_BUDGET):
            data = timeline(api, email=user.email, limit=100, self="1")
        assert len(data) == min(size["post_count"], 100)
        assert (data[0]["id"], data[0]["email"]) == (newest.pk, user.email)

    def test_get_post_detail(self, api, user, size, django_assert_max_num_queries):
        post = populate(user, **size)
        # the token's two, the post, its comments
        with django_assert_max_num_queries(POST_LIST_QUERY_BUDGET):
            response = api.get("/get_post_detail", {"id": post.pk})
        data = response.json()["data"]
        assert data["comment_count"] == -(-size["comment_count"] // 3)
        assert (data["like_count"], data["liked"]) == (size["friend_count"] + 1, 1)
        assert len(data["images"]) == 2

    def test_friend_post_after_a_cursor(self, api, user, size, django_assert_max_num_queries):
        populate(user, **size)
        newest = Post.objects.order_by("-time", "-id").first()
        cursor = {"before": newest.time, "before_id": newest.pk}
        with django_assert_max_num_queries(POST_LIST_QUERY_BUDGET):
            body = api.get("/get_friend_post", {"email": user.email, "limit": 100, **cursor})
        data = body.json()["data"]
        assert len(data) == min(size["post_count"] - 1, 100)
        assert newest.pk not in ids(data)

    def test_get_post(self, api, user, size, django_assert_max_num_queries):
        populate(user, **size)
        with django_assert_max_num_queries(POST_LIST_QUERY_BUDGET):
            response = api.get("/getPost", {"oldTime": 0, "limit": 100})
        data = response.json()["data"]
        assert len(data) == min(size["post_count"], 100)
        assert all(len(post["images"]) == 2 for post in data)

    def test_get_comments(self, api, user, size, django_assert_max_num_queries):
        post = populate(user, **size)
        # the post's lookup, then the page of comments
        with django_assert_max_num_queries(COMMENT_LIST_QUERY_BUDGET):
            response = api.get("/get_comments", {"id": post.pk, "limit": 100})
        assert len(response.json()["data"]) == min(-(-size["comment_count"] // 3), 100)


def plan_of_the_page_of_posts(client, path, params):
    """The plan of the query that reads the page of posts of `path`: on PostgreSQL as run
    (EXPLAIN ANALYZE, JSON), on SQLite its text (EXPLAIN QUERY PLAN)."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path, params).json()["status"] == 3002
    (sql,) = [query["sql"] for query in queries if query["sql"].startswith('SELECT "feed_post"')]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            return "\n".join(row[-1] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        (plan,) = cursor.fetchone()
    return json.loads(plan) if isinstance(plan, str) else plan


def posts_read(node):
    """How many rows the plan `node` and the nodes under it read from feed_post."""
    own = 0
    if node.get("Relation Name") == "feed_post":
        per_loop = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        own = per_loop * node["Actual Loops"]
    return own + sum(posts_read(child) for child in node.get("Plans", []))


# enough that reading them all costs more than an index scan (a small table is read whole)
BUSY_POSTS = 20_000


class TestPlans:
    """The page of posts is read through an index, and (PostgreSQL) the rows it reads depend on
    the page and the authors, not on how many posts the site has."""

    @pytest.fixture
    def quiet_friends(self, user, friends, make_user):
        """alice and her friends wrote a few old posts; someone else wrote many newer ones."""
        for number, author in enumerate([user, *friends]):
            make_post(author, time=number)
        if connection.vendor != "postgresql":
            return  # SQLite plans without statistics: its plan does not depend on the rows
        busy = make_user()
        Post.objects.bulk_create(
            Post(author=busy, time=1000 + number, msg="m") for number in range(BUSY_POSTS)
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE feed_post")

    @pytest.mark.parametrize(
        ("path", "params"),
        [
            ("/get_friend_post", {"email": "alice@example.com"}),
            ("/get_friend_post", {"email": "alice@example.com", "group": "1", "before": 2}),
            ("/get_friend_post", {"email": "alice@example.com", "before": 2, "before_id": 10**9}),
            ("/get_friend_post", {"email": "alice@example.com", "self": "1"}),
            ("/get_friend_post", {"email": "alice@example.com", "self": "1", "before": 2}),
            ("/getPost", {"email": "alice@example.com"}),
            ("/getPost", {"oldTime": 2000}),
        ],
    )
    def test_bounded_by_the_page(self, api, quiet_friends, path, params):
        plan = plan_of_the_page_of_posts(api, path, params)
        if connection.vendor != "postgresql":
            assert "SEARCH feed_post USING INDEX post_" in plan, plan
            assert "SCAN feed_post" not in plan, plan
            return
        # 3 authors (4 with oneself) × (the page of 20 and one more, for has_more), and the page
        authors = 4 if params.get("self") == "1" else 3
        assert posts_read(plan[0]["Plan"]) <= authors * 21 + 21, json.dumps(plan, indent=1)

    def test_a_cursor_deep_in_a_busy_friends_posts_reads_about_a_page(self, api, user, friends):
        """The cursor is where the index range starts: a page far down one friend's many posts
        (four to a time) reads that page, not every newer post of theirs first."""
        count = BUSY_POSTS if connection.vendor == "postgresql" else 400
        Post.objects.bulk_create(
            Post(author=friends[0], time=1000 + number // 4, msg="m") for number in range(count)
        )
        for friend in friends[1:]:
            make_post(friend, time=1)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE feed_post" if connection.vendor == "postgresql" else "ANALYZE")
        middle = Post.objects.order_by("-time", "-id")[count // 2 + 1]  # within a time's four
        cursor = {"email": user.email, "before": middle.time, "before_id": middle.pk}
        plan = plan_of_the_page_of_posts(api, "/get_friend_post", cursor)
        if connection.vendor != "postgresql":
            # the cursor's time bounds the range of an index (post_time or post_author_time)
            range_at_the_cursor = (
                r"SEARCH feed_post USING INDEX post_\w+ \((author_id=\? AND )?time<\?\)"
            )
            assert re.search(range_at_the_cursor, plan), plan
            assert "SCAN feed_post" not in plan, plan
            return
        # 3 authors × (the page of 20 and one more), and the page itself
        assert posts_read(plan[0]["Plan"]) <= 3 * 21 + 21, json.dumps(plan, indent=1)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="a plan of SQLite's query planner")
def test_sqlite_reads_a_page_without_a_pass_over_every_user(api, make_user):
    """With statistics (seed_demo runs ANALYZE) and more matching posts than users, a condition
    on the joined author made SQLite build a Bloom filter of all active users for each page, a
    cost that grows with the site (/getPost?oldTime= took 3× longer at 100,000 users than at
    10,000)."""
    authors = [make_user() for _ in range(5)]
    Post.objects.bulk_create(
        Post(author=authors[number % 5], time=number, msg="m") for number in range(2000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    for path, params in [
        ("/getPost", {"oldTime": 0}),
        ("/get_friend_post", {"email": "alice@example.com"}),
    ]:
        plan = plan_of_the_page_of_posts(api, path, params)
        assert "BLOOM FILTER" not in plan, plan
        assert "SCAN accounts_user" not in plan, plan
