"""Moderation in the admin: the moderators group, the change lists of posts, comments and
reports, and the actions on them (what a moderator may do in the user admin is
tests/test_user_admin.py's)."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.urls import NoReverseMatch, reverse

from accounts.models import AuthToken, User
from feed.models import Comment, Like, Post, Report
from tests.factories import PASSWORD, make_comments, make_post

pytestmark = pytest.mark.django_db

MODERATOR_PERMISSIONS = {
    "accounts.view_user",
    "accounts.change_user",
    "feed.view_post",
    "feed.change_post",
    "feed.view_comment",
    "feed.change_comment",
    "feed.view_report",
    "feed.change_report",
    "friends.view_friendship",
    "friends.view_block",
    "chat.view_messagereport",
    "chat.change_messagereport",
    "chat.change_message",
    "notices.view_notice",
}


@pytest.fixture(params=["superuser", "moderator"])
def staff_user(request):
    """Each of the two kinds of staff who moderate: `superuser`, then `moderator`."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_the_moderators_group_has_exactly_its_permissions():
    group = Group.objects.get(name="moderators")
    granted = {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }
    assert granted == MODERATOR_PERMISSIONS
    assert not Permission.objects.filter(group=group, codename__startswith="delete_").exists()


def test_a_moderator_has_those_permissions_and_no_more(moderator):
    moderator = User.objects.get(pk=moderator.pk)  # a fresh permission cache
    assert moderator.get_all_permissions() == MODERATOR_PERMISSIONS
    assert not moderator.has_perm("accounts.delete_user")
    assert not moderator.has_perm("friends.change_friendship")


def populate(user, bob, count):
    Post.objects.bulk_create(Post(author=bob, time=number, msg="x" * 80) for number in range(count))
    posts = list(Post.objects.all())
    Comment.objects.bulk_create(
        Comment(post=posts[number % count], author=user, text=f"c{number}")
        for number in range(count * 2)
    )
    # one open report per reporter and target (a constraint): each report of alice by another
    reporters = User.objects.bulk_create(
        User(email=f"reporter{number}@example.com") for number in range(count)
    )
    Report.objects.bulk_create(
        [Report(reporter=user, post=post, reason="spam") for post in posts]
        + [Report(reporter=reporter, user=user, reason="rude") for reporter in reporters]
    )


# session, user, permissions (moderator), the page's rows, the counts (4–7 today); one query per
# row would exceed it at 30 rows
CHANGELIST_QUERY_BUDGET = 8


@pytest.mark.parametrize("model", ["post", "comment", "report"])
@pytest.mark.parametrize("count", [1, 30])
def test_change_lists_render_with_a_bounded_number_of_queries(
    staff_client, user, bob, model, count, django_assert_max_num_queries
):
    populate(user, bob, count)
    url = reverse(f"admin:feed_{model}_changelist")
    with django_assert_max_num_queries(CHANGELIST_QUERY_BUDGET):
        response = staff_client.get(url)
    assert response.status_code == 200
    assert (
        response.context["cl"].result_count
        == Post.objects.count()
        * {
            "post": 1,
            "comment": 2,
            "report": 2,
        }[model]
    )


def test_the_post_change_list_shows_excerpt_date_and_comment_count(staff_client, user, bob):
    post = make_post(bob, time=1_700_000_000_000, msg="很长的动态" * 20)
    make_comments(post, user, 3)
    response = staff_client.get(reverse("admin:feed_post_changelist"))
    content = response.content.decode()
    assert "2023-11-14 22:13" in content  # the millisecond timestamp as a date
    assert "很长的动态" * 8 + "…" in content
    assert response.context["cl"].result_list[0].comment_total == 3


def test_the_post_page_shows_its_comments(staff_client, user, bob):
    post = make_post(bob)
    make_comments(post, user, 2)
    response = staff_client.get(reverse("admin:feed_post_change", args=[post.pk]))
    assert response.status_code == 200
    assert "comment 0" in response.content.decode()
    assert "comment 1" in response.content.decode()


def test_the_post_page_shows_the_latest_50_comments_and_links_to_all(staff_client, user, bob):
    post = make_post(bob)
    comments = make_comments(post, user, 60)
    response = staff_client.get(reverse("admin:feed_post_change", args=[post.pk]))
    assert response.status_code == 200
    (inline,) = response.context["inline_admin_formsets"]
    assert [form.instance.pk for form in inline.formset.forms] == [c.pk for c in comments[10:]]
    all_comments = reverse("admin:feed_comment_changelist") + f"?post__id__exact={post.pk}"
    assert f'href="{all_comments}"' in response.content.decode()
    listed = staff_client.get(all_comments)
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 60


def test_the_post_page_shows_its_likes_read_only(staff_client, user, bob, carol):
    post = make_post(bob)
    for liker in (user, carol):
        Like.objects.create(user=liker, post=post)
    url = reverse("admin:feed_post_change", args=[post.pk])
    response = staff_client.get(url)
    assert response.status_code == 200
    content = response.content.decode()
    assert "2 个：" in content
    for liker in (user, carol):
        assert f'href="{reverse("admin:accounts_user_change", args=[liker.pk])}"' in content
    # no page of likes of their own: staff cannot add, change or delete one
    with pytest.raises(NoReverseMatch):
        reverse("admin:feed_like_changelist")
    listed = staff_client.get(reverse("admin:feed_post_changelist"))
    assert listed.context["cl"].result_list[0].like_total == 2


def test_a_comment_is_hidden_from_the_post_page(staff_client, user, bob):
    post = make_post(bob)
    comments = make_comments(post, user, 60)
    url = reverse("admin:feed_post_change", args=[post.pk])
    (inline,) = staff_client.get(url).context["inline_admin_formsets"]
    formset = inline.formset
    data = {
        f"{formset.prefix}-TOTAL_FORMS": 50,
        f"{formset.prefix}-INITIAL_FORMS": 50,
        f"{formset.prefix}-MIN_NUM_FORMS": 0,
        f"{formset.prefix}-MAX_NUM_FORMS": 1000,
    }
    for number, form in enumerate(formset.forms):
        data[f"{formset.prefix}-{number}-id"] = form.instance.pk
        data[f"{formset.prefix}-{number}-post"] = post.pk
    data[f"{formset.prefix}-0-is_hidden"] = "on"
    assert staff_client.post(url, data).status_code == 302
    assert list(Comment.objects.filter(is_hidden=True)) == [comments[10]]


def test_searching_posts_by_author_email(staff_client, user, bob):
    make_post(bob, msg="from bob")
    make_post(user, msg="from alice")
    response = staff_client.get(reverse("admin:feed_post_changelist"), {"q": "bob@example"})
    assert [post.msg for post in response.context["cl"].result_list] == ["from bob"]


def run_action(client, model, action, objects):
    return client.post(
        reverse(f"admin:feed_{model}_changelist"),
        {"action": action, "_selected_action": [obj.pk for obj in objects]},
        follow=True,
    )


def test_hiding_and_unhiding_posts_and_comments(staff_client, api, user, bob):
    post = make_post(bob)
    (comment,) = make_comments(post, bob, 1)
    assert run_action(staff_client, "post", "hide", [post]).status_code == 200
    assert Post.objects.get().is_hidden
    assert api.get("/getPost", {"email": bob.email}).json()["data"] == []
    run_action(staff_client, "post", "unhide", [post])
    assert not Post.objects.get().is_hidden
    run_action(staff_client, "comment", "hide", [comment])
    assert Comment.objects.get().is_hidden
    assert api.get("/getPost", {"email": bob.email}).json()["data"][0]["comment_count"] == 0
    run_action(staff_client, "comment", "unhide", [comment])
    assert not Comment.objects.get().is_hidden


def test_only_a_superuser_may_delete_posts(client, superuser, moderator, bob):
    post = make_post(bob)
    client.force_login(moderator)
    run_action(client, "post", "delete_selected", [post])
    assert Post.objects.exists()
    client.force_login(superuser)
    response = client.post(
        reverse("admin:feed_post_changelist"),
        {"action": "delete_selected", "_selected_action": [post.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Post.objects.exists()


def test_the_report_queue_lists_open_reports_first_with_links(staff_client, user, bob):
    post = make_post(bob)
    resolved = Report.objects.create(reporter=user, user=bob, reason="old", state="resolved")
    post_report = Report.objects.create(reporter=user, post=post, reason="spam")
    user_report = Report.objects.create(reporter=bob, user=user, reason="rude")
    response = staff_client.get(reverse("admin:feed_report_changelist"))
    assert list(response.context["cl"].result_list) == [user_report, post_report, resolved]
    content = response.content.decode()
    assert reverse("admin:feed_post_change", args=[post.pk]) in content
    assert reverse("admin:accounts_user_change", args=[user.pk]) in content


def test_the_queue_shows_the_copy_and_marks_what_was_deleted(
    staff_client, api, user, bob, carol, client_for
):
    """alice reports bob's post and is reported by carol; then bob deletes the post and alice
    her account: both reports stay, with their copies, marked."""
    post = make_post(bob, msg="违规的动态内容")
    assert (
        api.post("/report", {"email": user.email, "post": post.pk, "reason": "广告"}).json()[
            "status"
        ]
        == 7001
    )
    carol_api = client_for(carol)
    about_alice = {"email": carol.email, "femail": user.email, "reason": "骚扰"}
    assert carol_api.post("/report", about_alice).json()["status"] == 7001
    bob_api = client_for(bob)
    assert bob_api.post("/delPost", {"email": bob.email, "id": post.pk}).json()["status"] == 3005
    assert api.post("/delete_account", {"email": user.email, "pass": PASSWORD}).json() == {
        "status": 1015,
        "msg": "账号已注销",
    }
    by_alice, by_carol = Report.objects.order_by("pk")
    response = staff_client.get(reverse("admin:feed_report_changelist"))
    rows = {
        report.pk: [str(cell) for cell in row]
        for report, row in zip(
            response.context["cl"].result_list, response.context["results"], strict=True
        )
    }
    gone = '<td class="field-target">已不存在（动态已删除或用户已注销）</td>'
    assert '<td class="field-reported_excerpt">违规的动态内容</td>' in rows[by_alice.pk]
    assert '<td class="field-reporter_link">已注销</td>' in rows[by_alice.pk]
    assert gone in rows[by_alice.pk]
    assert '<td class="field-reported_excerpt">用户名：alice\n姓名：Alice</td>' in rows[by_carol.pk]
    carol_link = reverse("admin:accounts_user_change", args=[carol.pk])
    assert (
        f'<td class="field-reporter_link"><a href="{carol_link}">{carol.email}</a></td>'
        in rows[by_carol.pk]
    )
    assert gone in rows[by_carol.pk]
    page = staff_client.get(reverse("admin:feed_report_change", args=[by_carol.pk]))
    content = page.content.decode()
    assert "用户名：alice" in content and "姓名：Alice" in content
    assert "alice@example.com" not in content
    assert carol.email in content


def test_resolve(staff_client, staff_user, user, bob):
    report = Report.objects.create(reporter=user, user=bob, reason="spam")
    run_action(staff_client, "report", "resolve", [report])
    report.refresh_from_db()
    assert report.state == Report.State.RESOLVED
    assert report.resolved_by == staff_user
    assert report.resolved_at is not None
    assert User.objects.get(pk=bob.pk).is_active


def test_hide_the_reported_post_and_resolve(staff_client, staff_user, api, user, bob, make_user):
    post = make_post(bob)
    other_post = make_post(bob)
    report = Report.objects.create(reporter=user, post=post, reason="spam")
    same_post = Report.objects.create(reporter=make_user(), post=post, reason="spam too")
    unrelated = Report.objects.create(reporter=user, post=other_post, reason="meh")
    run_action(staff_client, "report", "hide_post_and_resolve", [report])
    assert Post.objects.get(pk=post.pk).is_hidden
    assert not Post.objects.get(pk=other_post.pk).is_hidden
    for done in (report, same_post):
        done.refresh_from_db()
        assert (done.state, done.resolved_by) == (Report.State.RESOLVED, staff_user)
    unrelated.refresh_from_db()
    assert unrelated.state == Report.State.OPEN
    assert [p["id"] for p in api.get("/getPost", {"email": bob.email}).json()["data"]] == [
        other_post.pk
    ]


def test_deactivate_the_reported_user_and_resolve(
    staff_client, staff_user, client_for, user, bob, make_user
):
    bobs_client = client_for(bob)
    carol = make_user()
    report = Report.objects.create(reporter=user, user=bob, reason="spam")
    about_a_post = Report.objects.create(reporter=carol, post=make_post(bob), reason="spam")
    about_carol = Report.objects.create(reporter=user, user=carol, reason="x")
    run_action(staff_client, "report", "deactivate_user_and_resolve", [report])
    assert not User.objects.get(pk=bob.pk).is_active
    assert User.objects.get(pk=carol.pk).is_active
    assert not AuthToken.objects.filter(user=bob).usable().exists()
    assert bobs_client.get("/getPost", {"oldTime": 0}).status_code == 403
    for done in (report, about_a_post):
        done.refresh_from_db()
        assert (done.state, done.resolved_by) == (Report.State.RESOLVED, staff_user)
    about_carol.refresh_from_db()
    assert about_carol.state == Report.State.OPEN


def test_deactivating_from_a_post_report_takes_the_author(staff_client, user, bob):
    report = Report.objects.create(reporter=user, post=make_post(bob), reason="spam")
    run_action(staff_client, "report", "deactivate_user_and_resolve", [report])
    assert not User.objects.get(pk=bob.pk).is_active


def test_staff_outside_the_group_see_nothing(client, make_user):
    client.force_login(make_user(is_staff=True))
    assert client.get(reverse("admin:feed_report_changelist")).status_code == 403


@pytest.mark.parametrize("target", ["superuser", "another_moderator"])
def test_a_report_about_staff_stays_open_for_a_moderator(
    client, moderator, user, make_user, request, target
):
    staff_member = (
        request.getfixturevalue("superuser")
        if target == "superuser"
        else make_user(email="mod2@example.com", is_staff=True)
    )
    client.force_login(moderator)
    about_staff = Report.objects.create(reporter=user, user=staff_member, reason="x")
    response = run_action(client, "report", "deactivate_user_and_resolve", [about_staff])
    assert "跳过了 1 个你自己或职员的账号" in response.content.decode()
    assert User.objects.get(pk=staff_member.pk).is_active
    about_staff.refresh_from_db()
    assert about_staff.state == Report.State.OPEN


def test_the_migration_made_the_permissions_as_django_names_them():
    """0002_moderators_group creates the group's permissions from the historical models before
    post_migrate runs: post_migrate must then find each one (no second row, Django's name)."""
    for name in MODERATOR_PERMISSIONS:
        app_label, codename = name.split(".")
        action, model_name = codename.split("_", 1)
        model = apps.get_model(app_label, model_name)
        (permission,) = Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        )
        assert permission.name == f"Can {action} {model._meta.verbose_name_raw}"
