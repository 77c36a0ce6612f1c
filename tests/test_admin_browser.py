"""The admin console end to end: Playwright drives Debian's Chromium against the live server, and
the API is then asked whether the moderation took effect. Each test leaves a screenshot in
var/screenshots/."""

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import AuthToken
from feed.models import Report
from tests.browser import NEEDS_CHROMIUM
from tests.factories import PASSWORD, ApiClient, make_post, with_avatar

SCREENSHOTS = settings.VAR_DIR / "screenshots"
BANNED = {"status": 9402, "msg": "账号已被封禁"}

pytestmark = [
    *NEEDS_CHROMIUM,
    # A transactional test empties the database when it ends, the moderators group (made by a
    # data migration) included; serialized rollback puts the migrations' rows back first.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) whose relative URLs go to the live server."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def screenshot(page, request):
    """screenshot() saves the page (the visible part with full_page=False) as
    var/screenshots/<test name>.png."""

    def save(full_page=True):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{request.node.name}.png", full_page=full_page)

    return save


def submit_login(page, email, password):
    """Fill in the login page on screen and send it; returns once its answer has loaded."""
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    with page.expect_response(lambda response: response.request.method == "POST"):
        page.click("input[type=submit]")
    page.wait_for_load_state()


def log_in(page, email, password=PASSWORD):
    page.goto("/admin/")
    submit_login(page, email, password)
    expect(page.locator("#user-tools")).to_be_visible()


def run_action(page, action, *rows):
    """Tick the rows' checkboxes in the change list on screen and run `action` on them."""
    for row in rows:
        page.check(f"input[name=_selected_action][value='{row.pk}']")
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def post_ids(response):
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == 3002
    return [post["id"] for post in body["data"]]


def test_a_moderator_hides_a_reported_post_from_the_queue(
    page, screenshot, make_user, api, bob, moderator
):
    reported = make_post(bob, time=2, msg="广告：快来买")
    kept = make_post(bob, time=1, msg="周末去爬山")
    report = Report.objects.create(reporter=make_user(), post=reported, reason="垃圾广告")
    assert post_ids(api.get("/getPost", {"email": bob.email})) == [reported.pk, kept.pk]

    log_in(page, moderator.email)
    page.get_by_role("link", name="举报", exact=True).click()
    expect(page).to_have_url("/admin/feed/report/")
    run_action(page, "hide_post_and_resolve", report)

    expect(page.locator(".messagelist")).to_contain_text("已隐藏 1 条动态，处理 1 条举报。")
    expect(page.locator(f"#result_list tr:has(input[value='{report.pk}'])")).to_contain_text(
        "已处理"
    )
    screenshot()
    assert post_ids(api.get("/getPost", {"email": bob.email})) == [kept.pk]


def test_a_superuser_deactivates_a_user_whose_token_then_fails(page, screenshot, bob, superuser):
    bobs_api = ApiClient(AuthToken.objects.issue(bob))
    response = bobs_api.get("/get_info", {"email": bob.email})
    assert (response.status_code, response.json()["status"]) == (200, 6001)

    log_in(page, superuser.email)
    page.goto("/admin/accounts/user/")
    run_action(page, "deactivate", bob)

    expect(page.locator(".messagelist")).to_contain_text("已停用 1 个用户，其登录令牌均已撤销。")
    screenshot()
    response = bobs_api.get("/get_info", {"email": bob.email})
    assert response.status_code == 403
    assert response.json() == BANNED


def test_the_user_change_page_shows_the_avatar(page, screenshot, user, superuser):
    with_avatar(user)
    log_in(page, superuser.email)

    with page.expect_response(f"**/media/{user.avatar.name}") as avatar_response:
        page.goto(f"/admin/accounts/user/{user.pk}/change/")
    assert avatar_response.value.status == 200
    assert avatar_response.value.headers["content-type"] == "image/webp"
    thumbnail = page.locator(".field-avatar_preview img")
    expect(thumbnail).to_have_attribute("src", f"/media/{user.avatar.name}")
    # Loaded and decoded by the browser, not merely referenced.
    assert thumbnail.evaluate("image => image.complete && image.naturalWidth") > 0
    thumbnail.scroll_into_view_if_needed()
    screenshot(full_page=False)


def test_five_wrong_passwords_lock_the_admin_login(page, screenshot, superuser):
    page.goto("/admin/")
    for number in range(5):
        submit_login(page, superuser.email, f"guess-{number}")
        expect(page.locator(".errornote")).to_contain_text("密码")
    submit_login(page, superuser.email, PASSWORD)
    expect(page.locator(".errornote")).to_have_text(
        "此账号从你的地址登录失败次数过多，已锁定 15 分钟，请稍后再试。"
    )
    expect(page.locator("#user-tools")).to_have_count(0)
    screenshot()
