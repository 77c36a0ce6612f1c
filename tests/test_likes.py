"""Likes: /like and /unlike, `like_count` and `liked` in every Post, and a like racing itself."""

import threading

import pytest
from django.db import connection
from django.db.models.signals import post_delete, post_save

from accounts.models import AuthToken, User
from feed.models import Like, Post
from friends.models import Friendship, Group
from tests.factories import FORBIDDEN, ApiClient, block, body, make_post

pytestmark = pytest.mark.django_db

LIKED = {"status": 3008, "msg": "点赞成功"}
UNLIKED = {"status": 3009, "msg": "已取消点赞"}
NO_SUCH_POST = {"status": 3006, "msg": "没有该动态信息"}
MISSING = {"status": 3006, "msg": "缺少参数"}


def like(client, user, post, path="/like"):
    return body(client.post(path, {"email": user.email, "id": post.pk}))


def seen_in_lists(client, viewer, post):
    """(like_count, liked) of `post` in each list and in /get_post_detail, as `viewer` sees them;
    they must agree."""
    if viewer != post.author:  # the post in their timeline
        Friendship.objects.get_or_create(owner=viewer, friend=post.author, group=Group.NORMAL)
    seen = set()
    for path, params in [
        ("/getPost", {"email": post.author.email}),
        ("/get_friend_post", {"email": viewer.email, "self": "1"}),
    ]:
        (found,) = [
            item for item in body(client.get(path, params))["data"] if item["id"] == post.pk
        ]
        seen.add((found["like_count"], found["liked"]))
    detail = body(client.get("/get_post_detail", {"id": post.pk}))["data"]
    seen.add((detail["like_count"], detail["liked"]))
    assert len(seen) == 1, seen
    return seen.pop()


class TestLike:
    def test_like_then_unlike(self, api, client_for, user, bob, bob_post):
        assert like(api, user, bob_post) == {**LIKED, "data": {"like_count": 1, "liked": 1}}
        (stored,) = Like.objects.all()
        assert (stored.user, stored.post) == (user, bob_post)
        assert seen_in_lists(api, user, bob_post) == (1, 1)
        assert seen_in_lists(client_for(bob), bob, bob_post) == (1, 0)
        assert like(api, user, bob_post, "/unlike") == {
            **UNLIKED,
            "data": {"like_count": 0, "liked": 0},
        }
        assert not Like.objects.exists()
        assert seen_in_lists(api, user, bob_post) == (0, 0)

    def test_idempotent(self, api, client_for, user, bob, carol, bob_post):
        like(client_for(carol), carol, bob_post)
        for _ in range(2):
            assert like(api, user, bob_post)["data"] == {"like_count": 2, "liked": 1}
        assert Like.objects.filter(user=user).count() == 1
        for _ in range(2):
            assert like(api, user, bob_post, "/unlike")["data"] == {"like_count": 1, "liked": 0}
        assert list(Like.objects.values_list("user", flat=True)) == [carol.pk]

    def test_unlike_of_a_post_never_liked(self, api, user, bob_post):
        assert like(api, user, bob_post, "/unlike") == {
            **UNLIKED,
            "data": {"like_count": 0, "liked": 0},
        }

    def test_ones_own_post(self, api, user):
        post = make_post(user)
        assert like(api, user, post)["data"] == {"like_count": 1, "liked": 1}
        assert seen_in_lists(api, user, post) == (1, 1)

    @pytest.mark.parametrize("path", ["/like", "/unlike"])
    @pytest.mark.parametrize("params", [{"id": "1"}, {"email": "alice@example.com"}, {}])
    def test_missing_parameters_are_3006(self, api, bob_post, path, params):
        assert body(api.post(path, params)) == MISSING

    @pytest.mark.parametrize("path", ["/like", "/unlike"])
    @pytest.mark.parametrize(
        "hide", ["hex id", "no such id", "hidden", "author", "block", "blocked", "deleted"]
    )
    def test_a_post_the_caller_may_not_see_is_3006(self, api, user, bob, bob_post, path, hide):
        Like.objects.create(user=user, post=bob_post)
        post_id = {"hex id": "5f1d7a9e8b3c2a1d4e5f6a7b", "no such id": bob_post.pk + 1}.get(
            hide, bob_post.pk
        )
        if hide == "hidden":
            Post.objects.update(is_hidden=True)
        elif hide == "author":
            User.objects.filter(pk=bob.pk).update(is_active=False)
        elif hide == "block":
            block(user, bob)
        elif hide == "blocked":
            block(bob, user)
        elif hide == "deleted":
            bob_post.delete()
        assert body(api.post(path, {"email": user.email, "id": post_id})) == NO_SUCH_POST
        assert Like.objects.count() == (0 if hide == "deleted" else 1)

    @pytest.mark.parametrize("path", ["/like", "/unlike"])
    def test_as_someone_else_is_9403_after_the_not_found_code(self, api, bob, bob_post, path):
        Like.objects.create(user=bob, post=bob_post)
        response = api.post(path, {"email": bob.email, "id": bob_post.pk})
        assert response.status_code == 403
        assert response.json() == FORBIDDEN
        hidden = {"email": bob.email, "id": bob_post.pk + 1}
        assert body(api.post(path, hidden)) == NO_SUCH_POST
        assert list(Like.objects.values_list("user", flat=True)) == [bob.pk]

    @pytest.mark.parametrize("path", ["/like", "/unlike"])
    def test_method_and_token(self, anon, api, path):
        assert anon.post(path, {}).status_code == 401
        response = api.get(path)
        assert response.status_code == 405
        assert response["Allow"] == "POST"

    def test_a_deleted_post_takes_its_likes(self, api, user, bob_post):
        like(api, user, bob_post)
        bob_post.delete()
        assert not Like.objects.exists()

    def test_like_and_unlike_send_the_models_signals(self, api, user, bob_post):
        """An app above feed follows likes by post_save (created) and post_delete."""
        saved, deleted = [], []

        def on_save(sender, instance, created, **kwargs):
            saved.append((instance.user_id, instance.post_id, created))

        def on_delete(sender, instance, **kwargs):
            deleted.append((instance.user_id, instance.post_id))

        post_save.connect(on_save, sender=Like)
        post_delete.connect(on_delete, sender=Like)
        try:
            like(api, user, bob_post)
            like(api, user, bob_post)  # already liked: nothing saved
            like(api, user, bob_post, "/unlike")
            like(api, user, bob_post, "/unlike")  # nothing to delete
        finally:
            post_save.disconnect(on_save, sender=Like)
            post_delete.disconnect(on_delete, sender=Like)
        assert saved == [(user.pk, bob_post.pk, True)]
        assert deleted == [(user.pk, bob_post.pk)]


class TestWhatTheCountCounts:
    """API.md: counts count only what the caller may see. A like by a deactivated user counts
    for nobody; a like by someone blocked either way with the viewer does not count for them."""

    @pytest.fixture
    def likers(self, make_user, user, bob_post):
        people = {
            name: make_user(email=f"{name}@example.com")
            for name in ("carol", "dave", "erin", "fay")
        }
        Like.objects.bulk_create(Like(user=person, post=bob_post) for person in people.values())
        User.objects.filter(pk=people["carol"].pk).update(is_active=False)
        block(user, people["dave"])
        block(people["erin"], user)
        return people

    def test_the_viewer_counts_only_likers_they_may_see(self, api, user, bob_post, likers):
        assert seen_in_lists(api, user, bob_post) == (1, 0)  # fay's
        assert like(api, user, bob_post)["data"] == {"like_count": 2, "liked": 1}
        assert seen_in_lists(api, user, bob_post) == (2, 1)

    def test_others_count_the_blocked_likers_but_not_the_deactivated(
        self, client_for, user, bob, bob_post, likers
    ):
        assert seen_in_lists(client_for(bob), bob, bob_post) == (3, 0)  # dave, erin, fay
        User.objects.filter(pk=likers["carol"].pk).update(is_active=True)
        assert seen_in_lists(client_for(bob), bob, bob_post) == (4, 0)


def like_in_threads(user, post, count):
    """Call /like for the same user and post from `count` threads at once, each a client of its
    own (as two app instances would be); returns the answers, or what went wrong."""
    clients = [ApiClient(AuthToken.objects.issue(user)) for _ in range(count)]
    barrier = threading.Barrier(count)
    answers = []

    def run(client):
        try:
            barrier.wait(timeout=10)
            answers.append(client.post("/like", {"email": user.email, "id": post.pk}).json())
        except Exception as error:  # reported below, in the test's thread
            answers.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


@pytest.mark.django_db(transaction=True)
def test_a_like_racing_itself_stores_one_like_and_both_answer_3008(make_user):
    author, liker = make_user(), make_user()
    for _ in range(5):
        post = make_post(author)
        answers = like_in_threads(liker, post, 2)
        assert answers == [{**LIKED, "data": {"like_count": 1, "liked": 1}}] * 2
        assert Like.objects.filter(post=post).count() == 1
