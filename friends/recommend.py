"""/recommend: people the caller may like (API.md, "GET /recommend"; README.md, "Friends,
search and recommendations").

Two stages, as recommenders are built: candidate generation picks a bounded pool with index
range scans (friends of friends, the newest users of each shared or searched-for tag, the
newest users), then one query ranks the pool exactly. Ranking everyone would cost a scan of
all users per call, growing with the site; the pool keeps the cost flat."""

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import IContains

from accounts.models import User
from friends.models import Friendship, InterestTag, SearchField, SearchInterest, UserInterest

SHARED_TAG_WEIGHT = 3
SEARCH_MATCH_WEIGHT = 2
SAME_FLIKE_WEIGHT = 1
MUTUAL_FRIEND_WEIGHT = 1
TAGS_NAMED_IN_REASON = 3
NEWEST_PER_TAG = 100  # candidates taken from each shared or searched-for tag
NEWEST_USERS = 100  # candidates taken from the newest accounts, so the list is never empty
POOL_TAGS = 40  # the caller's own tags (≤ 20) and tags matching remembered search terms


def _count(rows, per):
    """The number of `rows` per outer candidate (`per` names the column that points at it), as a
    correlated subquery: each signal is counted on its own index, so signals never multiply
    each other's joined rows the way several JOINs + COUNT(DISTINCT) would."""
    counted = rows.order_by().values(per).annotate(count=Count("pk")).values("count")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def pool_tag_ids(viewer):
    """The tags whose newest users are candidates: the viewer's own, and those containing a
    `like` term the viewer searched for. One query over the (small) tag table."""
    searched = SearchInterest.objects.filter(user=viewer, field=SearchField.LIKE).filter(
        IContains(OuterRef("name"), F("term"))
    )
    own = UserInterest.objects.filter(user=viewer).values("tag")
    return list(
        InterestTag.objects.filter(Q(pk__in=own) | Exists(searched))
        .order_by("pk")
        .values_list("pk", flat=True)[:POOL_TAGS]
    )


def candidate_pool(viewer, viewer_list, tag_ids):
    """Stage one: a Q selecting a bounded pool of users, each part an index range scan."""
    friends_of_friends = Friendship.objects.filter(owner__in=viewer_list).values("friend")
    pool = Q(pk__in=friends_of_friends)
    for tag_id in tag_ids:
        newest_of_tag = UserInterest.objects.filter(tag_id=tag_id).order_by("-user_id")
        pool |= Q(pk__in=newest_of_tag.values("user_id")[:NEWEST_PER_TAG])
    newest = (
        User.objects.visible_to(viewer)
        .exclude(pk=viewer.pk)
        .exclude(pk__in=viewer_list)
        .order_by("-date_joined", "-id")
        .values("pk")[:NEWEST_USERS]
    )
    return pool | Q(pk__in=newest)


def ranked_candidates(viewer):
    """Stage two: the pool's users whom `viewer` may see and has not listed yet, annotated with
    `shared_tags`, `search_matches`, `same_flike`, `mutual_friends` and `score`, best first,
    newest account first among equals."""
    viewer_tags = UserInterest.objects.filter(user=viewer).values("tag")
    viewer_list = Friendship.objects.filter(owner=viewer).with_active_friend().values("friend")
    shared_tags = UserInterest.objects.filter(user=OuterRef("pk"), tag__in=viewer_tags)
    # Friends of friends: the candidate is listed by someone the viewer lists.
    mutual_friends = Friendship.objects.filter(friend=OuterRef("pk"), owner__in=viewer_list)
    search_matches = SearchInterest.objects.filter(user=viewer).filter(
        Q(IContains(OuterRef("like"), F("term")), field=SearchField.LIKE)
        | Q(IContains(OuterRef("flike"), F("term")), field=SearchField.FLIKE)
    )
    flike = viewer.flike.strip()
    same_flike = (
        Case(When(flike__iexact=flike, then=Value(1)), default=Value(0)) if flike else Value(0)
    )
    return (
        User.objects.visible_to(viewer)
        .filter(candidate_pool(viewer, viewer_list, pool_tag_ids(viewer)))
        .exclude(pk=viewer.pk)
        .exclude(pk__in=viewer_list)
        .annotate(
            shared_tags=_count(shared_tags, "user"),
            mutual_friends=_count(mutual_friends, "friend"),
            search_matches=_count(search_matches, "user"),
            same_flike=same_flike,
        )
        .annotate(
            score=SHARED_TAG_WEIGHT * F("shared_tags")
            + SEARCH_MATCH_WEIGHT * F("search_matches")
            + SAME_FLIKE_WEIGHT * F("same_flike")
            + MUTUAL_FRIEND_WEIGHT * F("mutual_friends")
        )
        .order_by("-score", "-date_joined", "-id")
    )


def shared_tag_names(viewer, users):
    """{user id: [names of the tags they share with `viewer`, in their own order]}, for a page
    of users, in one query."""
    names = {user.pk: [] for user in users}
    shared = (
        UserInterest.objects.filter(
            user__in=names, tag__in=UserInterest.objects.filter(user=viewer).values("tag")
        )
        .order_by("user", "position")
        .values_list("user", "tag__name")
    )
    for user_id, name in shared:
        names[user_id].append(name)
    return names


def reasons(user, tag_names):
    """Short Chinese reasons for one ranked candidate."""
    said = []
    if tag_names:
        named = "、".join(tag_names[:TAGS_NAMED_IN_REASON])
        more = f"等 {len(tag_names)} 项" if len(tag_names) > TAGS_NAMED_IN_REASON else ""
        said.append(f"共同爱好：{named}{more}")
    if user.mutual_friends:
        said.append(f"{user.mutual_friends} 位共同好友")
    if user.search_matches:
        said.append("符合你搜索过的兴趣")
    if user.same_flike:
        said.append("交友方向相同")
    return said


def recommend(viewer, *, start, limit):
    """One page of recommendations: [(user, score, reasons)], in two queries."""
    page = list(ranked_candidates(viewer)[start : start + limit])
    tag_names = shared_tag_names(viewer, page)
    return [(user, user.score, reasons(user, tag_names[user.pk])) for user in page]
