"""The checks with which `make loadtest` decides that no acknowledged write was lost or doubled
(the load itself runs from make, not in the suite)."""

from bench.loadtest import (
    REFUSED,
    Ledger,
    check_friendships,
    check_unique_writes,
    contest_groups,
    verify_database,
)
from feed.models import Comment, Post
from friends.models import Friendship


def test_contest_groups_share_an_account_by_fives_and_never_leave_one_alone():
    assert contest_groups(12, 5) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11]]
    assert contest_groups(11, 5) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9, 10]]
    assert contest_groups(3, 5) == [[0, 1, 2]]
    assert contest_groups(1, 5) == []


def test_acknowledged_writes_stored_once_under_their_id_pass():
    sent = {"a": 1, "b": 2, "unanswered": None, "unanswered, not applied": None}
    assert check_unique_writes("post", sent, [(1, "a"), (2, "b"), (3, "unanswered")]) == []


def test_a_lost_write_is_reported():
    assert check_unique_writes("post", {"a": 1, "b": 2}, [(1, "a")]) == [
        "post 'b' acknowledged as id 2 but not stored"
    ]


def test_a_write_stored_under_another_id_is_reported():
    assert check_unique_writes("comment", {"a": 1}, [(7, "a")]) == [
        "comment 'a' acknowledged as id 1 but stored as 7"
    ]


def test_a_write_refused_by_the_limits_must_not_be_stored():
    sent = {"a": 1, "limited": REFUSED, "limited, stored": REFUSED}
    assert check_unique_writes("post", sent, [(1, "a"), (2, "limited, stored")]) == [
        "post 'limited, stored' refused with 9429 but stored as 2"
    ]


def test_a_write_stored_twice_is_reported_even_without_an_answer():
    problems = check_unique_writes("post", {"a": 1, "b": None}, [(1, "a"), (4, "a"), (5, "b")])
    assert problems == ["post 'a' stored 2 times (ids [1, 4])"]
    assert check_unique_writes("post", {"b": None}, [(5, "b"), (6, "b")]) == [
        "post 'b' stored 2 times (ids [5, 6])"
    ]


def _rounds(*rounds):
    return [(number, list(requests)) for number, requests in enumerate(rounds)]


def test_one_clients_pair_must_end_in_its_last_acknowledged_group():
    pair = ("me", "you")
    rounds = {pair: _rounds([("1", True)], [("3", True)])}
    assert check_friendships(rounds, [("me", "you", "3")]) == []
    assert check_friendships(rounds, [("me", "you", "1")]) == [
        "friendship ('me', 'you') is in group 1, not one of ['3']"
    ]


def test_a_request_without_an_answer_may_or_may_not_have_been_applied():
    pair = ("me", "you")
    rounds = {pair: _rounds([("1", True)], [("2", False)])}
    assert check_friendships(rounds, [("me", "you", "1")]) == []
    assert check_friendships(rounds, [("me", "you", "2")]) == []
    assert check_friendships(rounds, [("me", "you", "4")]) == [
        "friendship ('me', 'you') is in group 4, not one of ['1', '2']"
    ]
    # Nothing acknowledged: no claim on whether the row exists.
    assert check_friendships({pair: _rounds([("2", False)])}, []) == []


def test_a_contested_pair_has_one_row_in_one_group_of_its_last_round():
    pair = ("shared", "friend")
    rounds = {pair: _rounds([("1", True)], [("2", True), ("3", True), ("4", True)])}
    for group in "234":
        assert check_friendships(rounds, [("shared", "friend", group)]) == []
    assert check_friendships(rounds, [("shared", "friend", "1")]) == [
        "friendship ('shared', 'friend') is in group 1, not one of ['2', '3', '4']"
    ]
    assert check_friendships(rounds, []) == [
        "friendship ('shared', 'friend') acknowledged but not stored"
    ]
    assert check_friendships(rounds, [("shared", "friend", "2"), ("shared", "friend", "3")]) == [
        "friendship ('shared', 'friend') has 2 rows"
    ]


def test_ledger_groups_concurrent_requests_of_a_pair_in_rounds():
    ledger = Ledger(tag="t")
    ledger.set_friend(("a", "b"), "1", True, round_number=0)
    ledger.set_friend(("a", "b"), "2", True, round_number=0)
    ledger.set_friend(("a", "b"), "3", False, round_number=5)
    ledger.set_friend(("c", "d"), "1", True)
    ledger.set_friend(("c", "d"), "2", True)
    assert ledger.friend_rounds == {
        ("a", "b"): [(0, [("1", True), ("2", True)]), (5, [("3", False)])],
        ("c", "d"): [(None, [("1", True)]), (None, [("2", True)])],
    }


def test_verify_database_reads_the_rows_the_load_wrote(make_user):
    alice, bob = make_user(email="alice@example.com"), make_user(email="bob@example.com")
    ledger = Ledger(tag="t")
    post = Post.objects.create(author=alice, msg=f"{ledger.prefix}post", time=1)
    twice = Post.objects.create(author=alice, msg=f"{ledger.prefix}twice", time=2)
    Post.objects.create(author=alice, msg=f"{ledger.prefix}twice", time=2)
    comment = Comment.objects.create(post=post, author=bob, text=f"{ledger.prefix}comment")
    Friendship.objects.create(owner=alice, friend=bob, group="2")
    ledger.wrote("posts", f"{ledger.prefix}post", post.pk)
    ledger.wrote("posts", f"{ledger.prefix}twice", twice.pk)
    ledger.wrote("posts", f"{ledger.prefix}lost", 999_999)
    ledger.wrote("comments", f"{ledger.prefix}comment", comment.pk)
    ledger.set_friend(("alice@example.com", "bob@example.com"), "2", True, round_number=0)
    ledger.set_friend(("alice@example.com", "bob@example.com"), "3", True, round_number=0)
    ledger.set_friend(("bob@example.com", "alice@example.com"), "1", True)

    problems = verify_database(ledger)

    assert problems == [
        f"post '{ledger.prefix}twice' stored 2 times (ids [{twice.pk}, {twice.pk + 1}])",
        f"post '{ledger.prefix}lost' acknowledged as id 999999 but not stored",
        "friendship ('bob@example.com', 'alice@example.com') acknowledged but not stored",
    ]
