"""User search (/get_data), recommendations (/recommend) and the interest tags behind them."""

from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import User
from friends import queries, services
from friends.interests import split_interests
from friends.models import InterestTag, SearchInterest, UserInterest
from tests.factories import (
    FORBIDDEN,
    PROFILE_KEYS,
    body,
    expected_profile,
    interest_tags,
    register,
)

pytestmark = pytest.mark.django_db

FOUND = (1008, "得到了相应的数据")
MISSING = {"status": 1007, "msg": "缺乏必要参数"}


def emails(response):
    data = body(response)
    assert (data["status"], data["msg"]) == FOUND
    return [profile["email"] for profile in data["data"]]


def joined(user, days_ago):
    """Set when `user` joined, `days_ago` days back."""
    user.date_joined = timezone.now() - timedelta(days=days_ago)
    user.save(update_fields=["date_joined"])
    return user


class TestInterestTags:
    def test_split_on_every_separator_trimmed_lowercased_deduplicated(self):
        like = " 篮球, 音乐，Music、 music;电影；旅行/读书  跑步\t篮球 ,, "
        assert split_interests(like) == ["篮球", "音乐", "music", "电影", "旅行", "读书", "跑步"]
        assert split_interests("") == []
        assert split_interests(" ,，、 ") == []

    def test_at_most_twenty_tags_of_at_most_twenty_characters(self):
        assert split_interests(" ".join(f"t{n}" for n in range(30))) == [f"t{n}" for n in range(20)]
        long = "a" * 21
        assert split_interests(f"{long} {'b' * 20} c") == ["b" * 20, "c"]

    def test_tags_follow_like_on_every_save(self, make_user):
        user = make_user(like="篮球、音乐")
        assert interest_tags(user) == ["篮球", "音乐"]
        user.like = "Music 篮球 摄影"
        user.save()
        assert interest_tags(user) == ["music", "篮球", "摄影"]
        user.like = ""
        user.save()
        assert interest_tags(user) == []

    def test_a_tag_is_one_row_shared_by_its_users(self, make_user):
        make_user(like="篮球 Music")
        make_user(like="music")
        assert sorted(InterestTag.objects.values_list("name", flat=True)) == ["music", "篮球"]
        assert UserInterest.objects.filter(tag__name="music").count() == 2

    def test_register2_stores_the_new_users_tags(self, anon, mailoutbox):
        response = register(anon, mailoutbox, like="篮球；Music")
        assert response.json()["status"] == 1005
        assert interest_tags(User.objects.get(email="new@example.com")) == ["篮球", "music"]

    def test_saving_other_fields_costs_no_tag_query(self, make_user, django_assert_num_queries):
        user = make_user(like="篮球")
        user.last_login = timezone.now()
        with django_assert_num_queries(1):
            user.save(update_fields=["last_login"])
        with django_assert_num_queries(2):  # the save, and reading the tags to compare
            user.save()
        assert interest_tags(user) == ["篮球"]


class TestGetData:
    @pytest.fixture
    def people(self, make_user, user):
        """Four other users, oldest first: dan (oldest) … gil (newest)."""
        return [
            joined(make_user(email="dan@example.com", username="Dan", sex="男", like="篮球"), 4),
            joined(
                make_user(email="eve@example.com", username="EVELYN", sex="女", flike="篮球伙伴"),
                3,
            ),
            joined(make_user(email="fay@example.com", username="fay", sex="女", like="音乐"), 2),
            joined(make_user(email="gil@example.com", username="gil", sex="其他"), 1),
        ]

    def search(self, api, **filters):
        return api.get(
            "/get_data", {"email": "alice@example.com", "start": 0, "limit": 20, **filters}
        )

    def test_everyone_else_oldest_first_as_profiles(self, api, user, people):
        response = self.search(api)
        assert emails(response) == [
            "dan@example.com",
            "eve@example.com",
            "fay@example.com",
            "gil@example.com",
        ]
        assert body(response)["data"][0] == expected_profile(
            "dan@example.com", username="Dan", sex="男", like="篮球"
        )

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({"femail": "EVE@example.com"}, ["eve@example.com"]),
            ({"femail": "ev@example.com"}, []),
            ({"username": "eve"}, ["eve@example.com"]),
            ({"username": "A"}, ["dan@example.com", "fay@example.com"]),
            ({"sex": "女"}, ["eve@example.com", "fay@example.com"]),
            ({"like": "篮"}, ["dan@example.com"]),
            ({"flike": "篮球"}, ["eve@example.com"]),
            ({"sex": "女", "username": "f"}, ["fay@example.com"]),
            ({"sex": "男", "like": "音乐"}, []),
        ],
    )
    def test_filters_combine_with_and(self, api, people, filters, expected):
        assert emails(self.search(api, **filters)) == expected

    def test_paging_and_limit_clamped_to_100(self, api, user, people):
        assert emails(self.search(api, start=1, limit=2)) == ["eve@example.com", "fay@example.com"]
        assert emails(self.search(api, start=4)) == []
        User.objects.bulk_create(User(email=f"bulk{n}@example.com") for n in range(110))
        assert len(emails(self.search(api, limit=500))) == 100

    def test_never_the_caller_deactivated_or_blocked(self, api, user, people):
        dan, eve, fay, _ = people
        User.objects.filter(pk=dan.pk).update(is_active=False)
        services.block(user, eve)
        services.block(fay, user)
        assert emails(self.search(api)) == ["gil@example.com"]
        assert emails(self.search(api, femail=user.email)) == []

    def test_remembers_like_and_flike_for_recommendations(self, api, user, people):
        emails(self.search(api, like=" 篮球 ", flike="Music"))
        emails(self.search(api, username="x"))
        assert sorted(SearchInterest.objects.values_list("user__email", "field", "term")) == [
            ("alice@example.com", "flike", "music"),
            ("alice@example.com", "like", "篮球"),
        ]

    def test_a_term_that_lower_casing_lengthens_is_kept_within_the_column(self, api, user):
        # "İ".lower() is two characters: 200 of them (within the limit) become 400.
        assert emails(self.search(api, like="İ" * 200)) == []
        (term,) = SearchInterest.objects.values_list("term", flat=True)
        assert term == "İ".lower() * 100

    def test_keeps_only_the_most_recent_search_terms(self, api, user):
        for number in range(SearchInterest.KEPT_PER_USER + 3):
            emails(self.search(api, like=f"term{number}"))
        kept = SearchInterest.objects.filter(user=user).values_list("term", flat=True)
        assert sorted(kept) == sorted(
            f"term{n}" for n in range(3, SearchInterest.KEPT_PER_USER + 3)
        )

    @pytest.mark.parametrize("missing", ["email", "start", "limit"])
    def test_missing_parameter(self, api, missing):
        params = {"email": "alice@example.com", "start": 0, "limit": 20, missing: ""}
        assert body(api.get("/get_data", params)) == MISSING

    def test_unknown_and_foreign_email(self, api, people):
        params = {"start": 0, "limit": 20}
        assert body(api.get("/get_data", {**params, "email": "nobody@example.com"})) == MISSING
        response = api.get("/get_data", {**params, "email": "dan@example.com"})
        assert body(response, 403) == FORBIDDEN

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"start": "x"}, "start"),
            ({"start": "-1"}, "start"),
            ({"start": "99999999999999999999"}, "start"),
            ({"limit": "0"}, "limit"),
            ({"limit": "1.5"}, "limit"),
            ({"sex": "M"}, "sex"),
            ({"femail": "not-an-email"}, "femail"),
            ({"like": "x" * 201}, "like"),
        ],
    )
    def test_malformed_values_are_9400(self, api, user, params, field):
        response = self.search(api, **params)
        data = body(response, 400)
        assert (data["status"], data["msg"]) == (9400, "参数格式错误")
        assert list(data["errors"]) == [field]
        assert not SearchInterest.objects.exists()

    @pytest.mark.parametrize("count", [1, 50])
    def test_query_count_does_not_grow(
        self, api, user, make_user, count, django_assert_max_num_queries
    ):
        for number in range(count):
            services.set_friend(user, make_user(like=f"篮球 tag{number}"), "1")
        # token lookup, token last-used update, remembering the terms (an upsert and a prune),
        # the search
        with django_assert_max_num_queries(5):
            found = emails(self.search(api, like="篮球", flike="x", limit=100))
        assert found == []  # no one has flike "x"
        with django_assert_max_num_queries(5):
            assert len(emails(self.search(api, like="篮球", limit=100))) == count


def years_ago(today, years, days=0):
    """The date `years` years before `today` (28 February for a 29th in a common year), `days`
    days later."""
    try:
        day = today.replace(year=today.year - years)
    except ValueError:
        day = today.replace(year=today.year - years, day=28)
    return day + timedelta(days=days)


class TestGetDataByPlaceAgeAndOrder:
    """/get_data's `location`, `age1` / `age2` and `order`."""

    def search(self, api, **filters):
        return api.get(
            "/get_data", {"email": "alice@example.com", "start": 0, "limit": 100, **filters}
        )

    @pytest.fixture
    def ages(self, make_user, user):
        """Users whose ages today (in TIME_ZONE) are 17 (18 tomorrow), 18 (since today), 25,
        30 (31 tomorrow) and 61, one without a birthday; oldest account first in that order."""
        today = timezone.localdate()
        people = {
            "a17": years_ago(today, 18, days=1),
            "a18": years_ago(today, 18),
            "a25": years_ago(today, 25, days=-100),
            "a30": years_ago(today, 31, days=1),
            "a61": years_ago(today, 61, days=-1),
            "none": None,
        }
        for days, (name, birthday) in enumerate(reversed(people.items()), start=1):
            joined(make_user(email=f"{name}@example.com", birthday=birthday), days)
        return people

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({"age1": 18}, ["a18", "a25", "a30", "a61"]),  # a birthday today counts
            ({"age2": 17}, ["a17"]),
            ({"age1": 18, "age2": 30}, ["a18", "a25", "a30"]),
            ({"age1": 25, "age2": 25}, ["a25"]),
            ({"age1": 31, "age2": 60}, []),
            ({"age1": 0}, ["a17", "a18", "a25", "a30", "a61"]),  # never those without one
            ({"age1": 0, "age2": 0}, []),
            ({"age1": "030", "age2": " 61 "}, ["a30", "a61"]),
            ({"age2": "30", "sex": "女"}, []),
        ],
    )
    def test_ages_reached_by_today(self, api, ages, filters, expected):
        assert emails(self.search(api, **filters)) == [f"{name}@example.com" for name in expected]

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({"age1": 100000}, []),
            ({"age1": 10**30}, []),
            ({"age2": 100000}, ["a17", "a18", "a25", "a30", "a61"]),
            ({"age2": 10**30}, ["a17", "a18", "a25", "a30", "a61"]),
            ({"age1": 61, "age2": 10**30}, ["a61"]),
        ],
    )
    def test_an_age_beyond_the_calendar_matches_nobody_or_sets_no_bound(
        self, api, ages, filters, expected
    ):
        assert emails(self.search(api, **filters)) == [f"{name}@example.com" for name in expected]

    def test_the_oldest_representable_birthdays(self, api, make_user):
        today = timezone.localdate()
        oldest = make_user(email="old@example.com", birthday=date(1, 1, 1))
        age = today.year - 1  # reached on 1 January
        assert emails(self.search(api, age1=age)) == [oldest.email]
        assert emails(self.search(api, age1=age + 1)) == []
        assert emails(self.search(api, age2=age)) == [oldest.email]
        assert emails(self.search(api, age2=age - 1)) == []

    @pytest.mark.parametrize(
        ("today", "birthday", "age"),
        [
            (date(2025, 2, 28), date(2004, 2, 29), 20),  # a common year: not yet on the 28th
            (date(2025, 3, 1), date(2004, 2, 29), 21),  # but on 1 March
            (date(2024, 2, 29), date(2004, 2, 29), 20),  # a leap year: on the day itself
            (date(2024, 2, 28), date(2004, 2, 29), 19),
            (date(2024, 2, 29), date(2003, 2, 28), 21),  # 29 February today, a common year back
            (date(2024, 2, 29), date(2003, 3, 1), 20),
            (date(2025, 6, 15), date(2000, 6, 15), 25),
            (date(2025, 6, 15), date(2000, 6, 16), 24),
            (date(2025, 1, 1), date(2024, 12, 31), 0),
        ],
    )
    def test_29_february_and_other_birthdays(
        self, api, monkeypatch, make_user, today, birthday, age
    ):
        person = make_user(email="p@example.com", birthday=birthday)
        monkeypatch.setattr(timezone, "localdate", lambda: today)
        for filters, found in [
            ({"age1": age, "age2": age}, True),
            ({"age1": age + 1}, False),
            ({"age2": age - 1} if age else {"age1": age + 1}, False),
            ({"age1": max(age - 1, 0), "age2": age}, True),
        ]:
            assert emails(self.search(api, **filters)) == ([person.email] if found else []), filters

    @pytest.mark.parametrize("read", [1, 2, 3, 100])
    def test_a_wide_range_finds_what_a_narrow_one_does(self, api, ages, monkeypatch, read):
        """Up to queries.AGE_RANGE_READ birthdays the range is read from the birthday index,
        beyond it checked on the users in the answer's order: the same users either way."""
        monkeypatch.setattr(queries, "AGE_RANGE_READ", read)
        for filters, expected in [
            ({"age1": 18}, ["a18", "a25", "a30", "a61"]),
            ({"age1": 18, "age2": 30, "order": "newest"}, ["a30", "a25", "a18"]),
            ({"age2": 17}, ["a17"]),
            ({"age1": 0, "start": 1, "limit": 3}, ["a18", "a25", "a30"]),
        ]:
            found = emails(self.search(api, **filters))
            assert found == [f"{name}@example.com" for name in expected], filters

    def test_today_is_the_date_in_time_zone(self, api, settings, make_user):
        """Somewhere it is already (or still) another day than in UTC: the age is the one
        reached by the date there."""
        utc_today = datetime.now(dt_timezone.utc).date()
        for zone in ("Pacific/Kiritimati", "Etc/GMT+12"):  # UTC+14, UTC−12
            settings.TIME_ZONE = zone
            if timezone.localdate() != utc_today:
                break
        local_today = timezone.localdate()
        assert local_today != utc_today
        person = make_user(
            email="p@example.com", birthday=years_ago(max(local_today, utc_today), 30)
        )
        # Ahead of UTC, they are 30 there already; behind it, still 29.
        reached = 30 if local_today > utc_today else 29
        assert emails(self.search(api, age1=reached, age2=reached)) == [person.email]
        assert emails(self.search(api, age1=59 - reached, age2=59 - reached)) == []

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"age1": "-1"}, "age1"),
            ({"age1": "abc"}, "age1"),
            ({"age2": "-1"}, "age2"),
            ({"age2": "2.5"}, "age2"),
            ({"age2": "1e3"}, "age2"),
            ({"age1": "30", "age2": "20"}, "age2"),
            ({"order": "random"}, "order"),
            ({"order": "NEWEST"}, "order"),
            ({"location": "x" * 101}, "location"),
        ],
    )
    def test_malformed_values_are_9400(self, api, user, params, field):
        data = body(self.search(api, **params), 400)
        assert (data["status"], data["msg"]) == (9400, "参数格式错误")
        assert list(data["errors"]) == [field]

    def test_location_is_a_case_insensitive_substring(self, api, make_user):
        for days, location in enumerate(["Beijing 朝阳", "北京", "南京", "上海", ""], start=1):
            joined(make_user(email=f"{days}@example.com", location=location), 10 - days)
        assert emails(self.search(api, location="BEIJING")) == ["1@example.com"]
        assert emails(self.search(api, location="京")) == ["2@example.com", "3@example.com"]
        assert emails(self.search(api, location="北京", age1=0)) == []  # no birthday
        assert emails(self.search(api, location="上海", sex="男")) == []

    def test_order_newest_first(self, api, make_user):
        people = [joined(make_user(email=f"{n}@example.com"), 10 - n).email for n in range(4)]
        same = timezone.now() - timedelta(days=20)
        twins = [make_user(email=f"twin{n}@example.com") for n in range(2)]
        User.objects.filter(pk__in=[twin.pk for twin in twins]).update(date_joined=same)
        oldest_first = [twin.email for twin in twins] + people
        assert emails(self.search(api)) == oldest_first
        assert emails(self.search(api, order="oldest")) == oldest_first
        assert emails(self.search(api, order="newest")) == oldest_first[::-1]
        pages = [emails(self.search(api, order="newest", start=n, limit=2)) for n in (0, 2, 4)]
        assert sum(pages, []) == oldest_first[::-1]
        assert body(self.search(api, order="newest", start=0, limit=5))["has_more"] == 1

    def test_blocked_and_deactivated_stay_hidden_with_the_new_filters(self, api, user, ages):
        services.block(user, User.objects.get(email="a25@example.com"))
        User.objects.filter(email="a30@example.com").update(is_active=False)
        found = emails(self.search(api, age1=18, age2=30, order="newest", location=""))
        assert found == ["a18@example.com"]

    @pytest.mark.parametrize("count", [1, 500])
    def test_query_count_does_not_grow(self, api, user, count, django_assert_max_num_queries):
        birthday = years_ago(timezone.localdate(), 30)
        User.objects.bulk_create(
            User(email=f"bulk{n}@example.com", location="北京朝阳", birthday=birthday)
            for n in range(count)
        )
        filters = {"location": "北京", "age1": 20, "age2": 40, "order": "newest"}
        # token lookup, token last-used update, how many birthdays the range holds (at most
        # queries.AGE_RANGE_READ), the search (nothing to remember)
        with django_assert_max_num_queries(4):
            found = emails(self.search(api, **filters))
        assert len(found) == min(count, 100)


class TestRecommend:
    def recommend(self, api, **params):
        response = api.get("/recommend", {"email": "alice@example.com", **params})
        data = body(response)
        assert (data["status"], data["msg"]) == FOUND
        return data["data"]

    def test_ranking_on_a_known_graph(self, api, user, make_user):
        user.like = "篮球 音乐 电影"
        user.flike = "运动"
        user.save()
        # alice and f1, f2 list each other; their mutual friendships give the friends of
        # friends (alice among them: she is never recommended herself).
        f1 = joined(make_user(email="f1@example.com", like="篮球 音乐 电影"), 30)
        f2 = joined(make_user(email="f2@example.com"), 30)
        for friend, group in ((f1, "1"), (f2, "2")):
            services.set_friend(user, friend, group)
            services.set_friend(friend, user, "1")
        # alice searched for 摄影 (remembered for recommendations).
        emails(api.get("/get_data", {"email": user.email, "start": 0, "limit": 1, "like": "摄影"}))
        a = joined(make_user(email="a@example.com", like="篮球、音乐"), 10)  # 2 tags: 6
        h = joined(make_user(email="h@example.com", like="音乐,篮球,跑步"), 5)  # 6, newer
        b = joined(make_user(email="b@example.com", like="风景摄影"), 9)  # search 2 + mutual 2
        for friend in (f1, f2):
            services.set_friend(friend, b, "1")
            services.set_friend(b, friend, "3")
        d = joined(make_user(email="d@example.com", like="电影"), 8)  # 1 tag: 3
        c = joined(make_user(email="c@example.com", flike="运动"), 7)  # flike 1 + mutual 1
        services.set_friend(f1, c, "4")
        services.set_friend(c, f1, "4")
        g = joined(make_user(email="g@example.com"), 6)  # 0, older
        e = joined(make_user(email="e@example.com"), 1)  # 0, newest
        blocked = joined(make_user(email="x@example.com", like="篮球 音乐 电影"), 2)
        services.block(blocked, user)
        gone = joined(make_user(email="y@example.com", like="篮球 音乐 电影"), 2)
        User.objects.filter(pk=gone.pk).update(is_active=False)

        ranked = self.recommend(api)
        assert [(p["email"], p["score"]) for p in ranked] == [
            (h.email, 6),
            (a.email, 6),
            (b.email, 4),
            (d.email, 3),
            (c.email, 2),
            (e.email, 0),
            (g.email, 0),
        ]
        reasons = {p["email"]: p["reasons"] for p in ranked}
        assert reasons[h.email] == ["共同爱好：音乐、篮球"]
        assert reasons[a.email] == ["共同爱好：篮球、音乐"]
        assert reasons[b.email] == ["2 位共同好友", "符合你搜索过的兴趣"]
        assert reasons[d.email] == ["共同爱好：电影"]
        assert reasons[c.email] == ["1 位共同好友", "交友方向相同"]
        assert reasons[e.email] == reasons[g.email] == []
        assert set(ranked[0]) == PROFILE_KEYS | {"score", "reasons"}

    def test_many_shared_tags_are_named_briefly(self, api, user, make_user):
        user.like = "a b c d e"
        user.save()
        make_user(like="e d c b")
        (only,) = self.recommend(api)
        assert (only["score"], only["reasons"]) == (12, ["共同爱好：e、d、c等 4 项"])

    def test_without_interests_or_friends_the_newest_users(self, api, user, make_user):
        old = joined(make_user(), 3)
        new = joined(make_user(), 1)
        middle = joined(make_user(), 2)
        assert [p["email"] for p in self.recommend(api)] == [new.email, middle.email, old.email]
        assert {p["score"] for p in self.recommend(api)} == {0}

    def test_matches_older_than_the_newest_users_are_found(self, api, user, make_user):
        """Every signal brings its users into the ranking, not only the newest accounts."""
        user.flike = "运动"
        user.save()
        emails(api.get("/get_data", {"email": user.email, "start": 0, "limit": 1, "flike": "旅"}))
        same_flike = joined(make_user(email="same@example.com", flike="运动"), 30)
        searched = joined(make_user(email="searched@example.com", flike="旅行搭子"), 30)
        User.objects.bulk_create(User(email=f"bulk{n}@example.com") for n in range(120))
        ranked = self.recommend(api, limit=3)
        assert [(p["email"], p["score"], p["reasons"]) for p in ranked[:2]] == [
            (searched.email, 2, ["符合你搜索过的兴趣"]),
            (same_flike.email, 1, ["交友方向相同"]),
        ]
        assert ranked[2]["score"] == 0

    def test_paging_default_20_and_at_most_100(self, api, user):
        User.objects.bulk_create(User(email=f"bulk{n}@example.com") for n in range(120))
        assert len(self.recommend(api)) == 20
        assert len(self.recommend(api, limit=500)) == 100
        assert len(self.recommend(api, limit=5)) == 5
        everyone = [p["email"] for p in self.recommend(api, limit=100)]
        assert [p["email"] for p in self.recommend(api, start=10, limit=5)] == everyone[10:15]

    def test_people_already_listed_are_excluded(self, api, user, make_user):
        listed, other = make_user(), make_user()
        services.set_friend(user, listed, "4")
        assert [p["email"] for p in self.recommend(api)] == [other.email]

    def test_missing_unknown_foreign_and_malformed(self, api, make_user):
        other = make_user()
        assert body(api.get("/recommend")) == MISSING
        assert body(api.get("/recommend", {"email": "nobody@example.com"})) == MISSING
        assert body(api.get("/recommend", {"email": other.email}), 403) == FORBIDDEN
        response = api.get("/recommend", {"email": "alice@example.com", "limit": "many"})
        assert body(response, 400)["status"] == 9400

    def test_a_one_way_add_reveals_nothing_of_the_added_users_list(
        self, api, client_for, user, bob, carol, make_user
    ):
        """The attack: alice adds bob (no consent needed), then reads her recommendations to
        learn whom bob lists, although bob's list is his own (/get_friends answers 9403)."""
        dave = make_user(email="dave@example.com")
        bob_api = client_for(bob)
        for friend in (carol, dave):  # bob's mutual friendships
            assert body(bob_api.get("/set_friend", self.add(bob, friend)))["status"] == 5003
            assert body(client_for(friend).get("/set_friend", self.add(friend, bob)))["status"] == (
                5003
            )
        # Newer accounts, so that carol and dave are not among the newest users anyway.
        User.objects.bulk_create(User(email=f"bulk{n}@example.com") for n in range(120))
        assert body(api.get("/set_friend", self.add(user, bob)))["status"] == 5003
        assert body(api.get("/get_friends", {"email": bob.email}), 403) == FORBIDDEN

        everyone = self.recommend(api, limit=100) + self.recommend(api, start=100, limit=100)
        newest = User.objects.order_by("-date_joined", "-id").values_list("email", flat=True)
        # the newest accounts (the candidates of someone without interests), nobody else
        assert [p["email"] for p in everyone] == list(newest[:100])
        assert {p["email"] for p in everyone}.isdisjoint({carol.email, dave.email})
        assert all(p["score"] == 0 and p["reasons"] == [] for p in everyone)

    def test_mutual_friends_count_only_mutual_friendships_on_both_sides(
        self, api, user, bob, carol, make_user
    ):
        dave, erin, fay, gil = (
            make_user(email=f"{name}@example.com") for name in ("dave", "erin", "fay", "gil")
        )
        services.set_friend(user, bob, "1")
        services.set_friend(bob, user, "1")  # alice and bob: mutual
        services.set_friend(user, erin, "1")  # alice lists erin, erin does not list her
        for friend in (carol, dave):  # erin and bob both mutual with carol and dave
            for middle in (bob, erin):
                services.set_friend(middle, friend, "2")
                services.set_friend(friend, middle, "2")
        services.set_friend(bob, fay, "3")  # bob lists fay, fay does not list him
        services.set_friend(gil, bob, "3")  # gil lists bob, bob does not list him
        ranked = {p["email"]: (p["score"], p["reasons"]) for p in self.recommend(api)}
        # only bob is a mutual friend of alice's, so each counts one, not two; fay and gil none
        assert ranked[carol.email] == ranked[dave.email] == (1, ["1 位共同好友"])
        assert ranked[fay.email] == ranked[gil.email] == (0, [])

    def page_through(self, api, limit):
        """Every recommendation, read `limit` at a time with `start` until `has_more` is 0."""
        found, start = [], 0
        while True:
            answer = body(
                api.get(
                    "/recommend", {"email": "alice@example.com", "start": start, "limit": limit}
                )
            )
            found += [(p["email"], p["score"]) for p in answer["data"]]
            if not answer["has_more"]:
                return found
            start += limit

    def test_pages_continue_each_other_exactly_ties_included(self, api, user, make_user):
        """Scores and join times shared by many: page after page is the one-call list, nothing
        skipped, nothing twice."""
        user.like = "篮球 音乐"
        user.save()
        same = timezone.now() - timedelta(days=3)
        people = [
            make_user(email=f"p{n}@example.com", like=["篮球", "音乐", "篮球 音乐", ""][n % 4])
            for n in range(40)
        ]
        User.objects.filter(pk__in=[person.pk for person in people[::2]]).update(date_joined=same)
        everyone = [(p["email"], p["score"]) for p in self.recommend(api, limit=100)]
        assert len(everyone) == 40
        assert [score for _, score in everyone] == sorted((s for _, s in everyone), reverse=True)
        for limit in (1, 3, 7):
            assert self.page_through(api, limit) == everyone
        assert body(api.get("/recommend", {"email": user.email, "start": 40}))["data"] == []

    def test_the_friends_of_friends_kept_are_the_same_on_every_page(
        self, api, user, bob, make_user, monkeypatch
    ):
        """More friends of friends than the pool takes: the pool keeps the newest accounts among
        them, in SQL order, so that the second page ranks the same pool as the first."""
        monkeypatch.setattr(queries, "FRIENDS_OF_FRIENDS", 5)
        monkeypatch.setattr(queries, "NEWEST_USERS", 0)  # only friends of friends in the pool
        for owner, friend in ((user, bob), (bob, user)):
            services.set_friend(owner, friend, "1")
        second_degree = [make_user(email=f"f{n}@example.com") for n in range(12)]
        for person in second_degree:
            services.set_friend(bob, person, "2")
            services.set_friend(person, bob, "2")
        newest = [person.email for person in reversed(second_degree)][:5]
        assert [p["email"] for p in self.recommend(api)] == newest
        assert [email for email, _ in self.page_through(api, 2)] == newest
        assert {p["score"] for p in self.recommend(api)} == {1}

    @staticmethod
    def add(owner, friend):
        return {"email": owner.email, "femail": friend.email, "group": "3"}

    @pytest.mark.parametrize("count", [1, 50])
    def test_query_count_does_not_grow(
        self, api, user, make_user, count, django_assert_max_num_queries
    ):
        user.like = "篮球 音乐 电影 摄影"
        user.save()
        for number in range(count):
            friend = make_user(like="篮球 音乐")
            friend_of_friend = make_user(like=f"电影 摄影 t{number}")
            for owner, listed in ((user, friend), (friend, friend_of_friend)):
                services.set_friend(owner, listed, "1")
                services.set_friend(listed, owner, "2")
        # token lookup, token last-used update, the pool ranked, the page's shared tag names
        with django_assert_max_num_queries(4):
            ranked = self.recommend(api, limit=100)
        assert len(ranked) == count
        assert all(p["score"] == 3 * 2 + 1 for p in ranked)
        assert ranked[0]["reasons"] == ["共同爱好：电影、摄影", "1 位共同好友"]


# PostgreSQL plans by the table's size: enough users that reading them all costs more than
# looking the pool's up (a small table is read whole).
POSTGRESQL_USERS = 20_000


def test_the_pools_users_are_read_by_primary_key(user):
    """The ranking reads the pool's users (about a thousand) by their primary key, never every
    user: the cost must not grow with the site."""
    user.like = "篮球 音乐"
    user.save()
    users = POSTGRESQL_USERS if connection.vendor == "postgresql" else 300
    User.objects.bulk_create(
        User(email=f"u{n}@example.com", like="篮球", flike="运动") for n in range(users)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        sql, params = queries.recommend_statement(connection, user, start=0, limit=20)
        explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
        cursor.execute(explain + sql, params)
        rows = cursor.fetchall()
    plan = "\n".join(str(row[-1]) for row in rows)
    if connection.vendor == "sqlite":  # rows (id, parent, 0, step): the steps of the ranking
        (signals,) = [row[0] for row in rows if row[-1] == "MATERIALIZE signals"]
        ranking = [row[-1] for row in rows if row[1] == signals]
        assert "SEARCH accounts_user USING INTEGER PRIMARY KEY (rowid=?)" in ranking, plan
        assert "SCAN accounts_user" not in ranking, plan
    else:
        assert "Index Cond: (id = ANY (" in plan, plan
        assert "Seq Scan on accounts_user" not in plan, plan


@pytest.mark.django_db(transaction=True)
def test_migration_backfills_the_tags_of_existing_users():
    """0003 gives tags to the users who wrote `like` before tags existed."""
    before = [("friends", "0002_interests_and_search_interests")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_user_model = executor.loader.project_state(before).apps.get_model("accounts", "User")
    old_user_model.objects.create(email="old@example.com", like="篮球，Music music")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # back to the latest state
    assert interest_tags(User.objects.get(email="old@example.com")) == ["篮球", "music"]
