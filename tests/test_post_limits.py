"""The limits on posts and comments (API.md, /putPost and /comment): more than 30 posts or 60
comments per user in 10 minutes → 429/9429. They come after the token and before the
missing-parameter codes, and count only what was stored, also under concurrent requests."""

import time

import pytest

from accounts.models import AuthToken
from feed.models import Comment, Post
from socialsite import ratelimit
from socialsite.errors import ApiError
from tests.factories import ApiClient, make_post, responses_in_threads

pytestmark = pytest.mark.django_db

TOO_MANY = {"status": 9429, "msg": "请求过于频繁"}
WINDOW = 10 * 60


def post(client, number, email="alice@example.com"):
    return client.post("/putPost", {"email": email, "message": f"post {number}", "time": number})


def comment(client, post_id, number, email="alice@example.com"):
    return client.post("/comment", {"email": email, "id": post_id, "comment": f"c {number}"})


def assert_too_many(response):
    assert response.status_code == 429
    assert response.json() == TOO_MANY
    assert 0 < int(response["Retry-After"]) <= WINDOW


class TestPosts:
    def test_the_31st_post_in_10_minutes_is_429_and_not_stored(self, api, user):
        for number in range(30):
            assert post(api, number).json()["status"] == 3001
        assert_too_many(post(api, 30))
        assert Post.objects.filter(author=user).count() == 30

    def test_the_limit_comes_after_the_token_and_before_the_missing_parameters(
        self, anon, api, user
    ):
        for number in range(30):
            post(api, number)
        assert anon.post("/putPost", {}).status_code == 401
        assert_too_many(api.post("/putPost", {}))
        assert_too_many(api.post("/putPost", {"email": "bob@example.com"}))

    def test_only_stored_posts_count(self, api, user, bob):
        refused = [
            {"email": user.email, "message": "   ", "time": 1},  # 3000
            {"email": user.email, "message": "x", "time": "soon"},  # 3000
            {"email": user.email, "message": "x" * 2001, "time": 1},  # 9400
            {"email": user.email, "message": "x", "time": 2**62},  # 9400, in the future
            {"email": bob.email, "message": "x", "time": 1},  # 9403
        ]
        for _ in range(10):
            for data in refused:
                assert api.post("/putPost", data).json()["status"] != 3001
        for number in range(30):
            assert post(api, number).json()["status"] == 3001

    def test_each_user_has_a_limit_of_their_own(self, api, client_for, bob):
        for number in range(30):
            post(api, number)
        assert post(client_for(bob), 0, email=bob.email).json()["status"] == 3001


class TestComments:
    def test_the_61st_comment_in_10_minutes_is_429_and_not_stored(self, api, user, bob_post):
        for number in range(60):
            assert comment(api, bob_post.pk, number).json()["status"] == 3007
        assert_too_many(comment(api, bob_post.pk, 60))
        assert_too_many(api.post("/comment", {}))  # before the missing-parameter codes
        assert Comment.objects.filter(author=user).count() == 60

    def test_only_stored_comments_count_and_posts_are_counted_apart(self, api, user, bob_post):
        for _ in range(70):
            # no such post, an empty comment: nothing stored, nothing counted
            assert comment(api, bob_post.pk + 1, 0).json()["status"] == 3006
            assert api.post("/comment", {"email": user.email, "id": bob_post.pk}).json()[
                "status"
            ] == (3006)
        for number in range(30):
            post(api, number)
        for number in range(60):
            assert comment(api, bob_post.pk, number).json()["status"] == 3007


def post_data(author, target, number):
    return {"email": author.email, "message": f"m{number}", "time": number}


def comment_data(author, target, number):
    return {"email": author.email, "id": target.pk, "comment": f"c{number}"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "data", "limit", "stored"),
    [("/putPost", post_data, 30, 3001), ("/comment", comment_data, 60, 3007)],
    ids=["posts", "comments"],
)
def test_concurrent_requests_never_pass_the_limit(make_user, path, data, limit, stored):
    """40 requests at once when the user has room for 10 more: 10 stored, 30 refused. Each of
    the 40 finds room before it writes; the count at the write lets only 10 through."""
    author, target = make_user(), make_post(make_user())
    client = ApiClient(AuthToken.objects.issue(author))
    for number in range(limit - 10):
        assert client.post(path, data(author, target, number)).json()["status"] == stored

    def call(number):
        # a client (and a database connection) per thread, as concurrent workers have; one token
        # (a user keeps at most 20 live ones)
        each = ApiClient(client.token)
        return lambda: each.post(path, data(author, target, 1000 + number))

    answers = responses_in_threads([call(number) for number in range(40)])
    assert sorted(body["status"] for _, body in answers) == [stored] * 10 + [9429] * 30
    written = Post.objects.filter(author=author) if path == "/putPost" else Comment.objects
    assert written.count() == limit


def test_the_window_slides():
    """Room comes back as the oldest counted action leaves the window, not at a fixed hour."""
    limit = ratelimit.ActionLimit("test", limit=2, window=1)
    limit.count("me")
    time.sleep(0.5)
    limit.count("me")
    with pytest.raises(ApiError) as refused:
        limit.check("me")
    assert refused.value.headers == {"Retry-After": "1"}
    limit.check("someone else")
    time.sleep(0.6)  # the first has left the window, the second has not
    limit.count("me")
    with pytest.raises(ApiError):
        limit.count("me")
