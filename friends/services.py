"""Writes of the friends app: lists, blocks and remembered search interests (API.md, "Friends")."""

from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, Subquery, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import User
from friends import errors, queries
from friends.models import Block, FollowersSeen, Friendship, SearchField, SearchInterest
from socialsite.errors import ApiError
from socialsite.orm import lock_rows


def _lock_pair(user, other):
    """Lock both users' rows (in id order, so two calls never deadlock): a /set_friend and a
    /block of the same pair then run one after the other, and a block can never be followed by
    a friendship it should have prevented. (SQLite serializes writes anyway.)"""
    lock_rows(User, {user.pk, other.pk}, no_key=True)


def set_friend(owner, friend, group):
    """Put `friend` in `owner`'s `group`: adds them, or moves them and keeps their place in the
    list (created_at is only set when the row is created)."""
    if owner.pk == friend.pk:
        raise ApiError(errors.CANNOT_ADD_SELF)
    try:
        with transaction.atomic():
            _lock_pair(owner, friend)
            # A block either way hides each from the other (API.md); 5007 keeps its one msg.
            if queries.blocked_either_way(owner.pk, friend.pk):
                raise ApiError(errors.BLOCKED)
            Friendship.objects.update_or_create(
                owner=owner, friend=friend, defaults={"group": group}
            )
    except IntegrityError:
        # A concurrent call created the pair between our read and our insert; the row exists
        # now, so updating it is what this call means.
        Friendship.objects.filter(owner=owner, friend=friend).update(group=group)


def remove_friend(owner, friend):
    """Take `friend` off `owner`'s list; nothing happens when they are not on it."""
    Friendship.objects.filter(owner=owner, friend=friend).delete()


def remove_friendships_between(user, other):
    return Friendship.objects.between(user, other).delete()


def block(blocker, blocked):
    """`blocker` blocks `blocked`: both friendships go and the block is stored, in one
    transaction (the API's /block and the admin alike). Blocking twice is the same as once.
    Returns the block."""
    if blocker.pk == blocked.pk:
        raise ApiError(errors.CANNOT_BLOCK_SELF)
    try:
        with transaction.atomic():
            _lock_pair(blocker, blocked)
            remove_friendships_between(blocker, blocked)
            stored, _ = Block.objects.get_or_create(blocker=blocker, blocked=blocked)
    except IntegrityError:
        # The same block was stored concurrently, and that call removed the friendships.
        stored = Block.objects.filter(blocker=blocker, blocked=blocked).first()
    return stored


def unblock(blocker, blocked):
    """Lift `blocker`'s block of `blocked` (friendships stay removed); idempotent."""
    Block.objects.filter(blocker=blocker, blocked=blocked).delete()


def remember_search_interests(user, *, like=None, flike=None):
    """Remember the `like`/`flike` terms `user` searched for (for /recommend), keeping only the
    most recent `SearchInterest.KEPT_PER_USER`. Two statements, whatever was remembered before."""
    now = timezone.now()
    # Lower-casing can lengthen a term ("İ" becomes two characters), so the column's length is
    # enforced after it; the prefix kept still matches everything the whole term would.
    kept_length = SearchInterest._meta.get_field("term").max_length
    searched = [
        SearchInterest(
            user=user, field=field, term=term.strip().lower()[:kept_length], searched_at=now
        )
        for field, term in ((SearchField.LIKE, like), (SearchField.FLIKE, flike))
        if term and term.strip()
    ]
    if not searched:
        return
    # An upsert: a term searched again (even concurrently) only becomes recent again.
    SearchInterest.objects.bulk_create(
        searched,
        update_conflicts=True,
        unique_fields=["user", "field", "term"],
        update_fields=["searched_at"],
    )
    remembered = SearchInterest.objects.filter(user=user)
    recent = remembered.order_by("-searched_at", "-id").values("id")[: SearchInterest.KEPT_PER_USER]
    remembered.exclude(id__in=Subquery(recent)).delete()


def read_followers(owner, *, start, limit):
    """/get_followers: one page of `owner`'s followers (with `has_more`). Reading the first page
    moves the mark of /get_badges' `followers` to the newest `since` it shows."""
    page = queries.followers_page(owner, start=start, limit=limit)
    if start == 0 and page.items:
        mark_followers_seen(owner, page.items[0].created_at)
    return page


def mark_followers_seen(owner, newest):
    """Move `owner`'s FollowersSeen mark forward to `newest` (never back). One UPDATE; on the
    first read an INSERT too."""
    forward = {"seen_until": Greatest("seen_until", Value(newest, output_field=DateTimeField()))}
    if FollowersSeen.objects.filter(user=owner).update(**forward):
        return
    try:
        with transaction.atomic():
            FollowersSeen.objects.create(user=owner, seen_until=newest)
    except IntegrityError:  # a racing first read made it: move that one forward
        FollowersSeen.objects.filter(user=owner).update(**forward)


def search_and_remember(viewer, filters, *, start, limit):
    """/get_data: one page of the search (with `has_more`); its `like`/`flike` terms are
    remembered for /recommend."""
    remember_search_interests(viewer, like=filters["like"], flike=filters["flike"])
    return queries.search_page(viewer, filters, start=start, limit=limit)
