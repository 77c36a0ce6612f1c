"""What a web client meets in a real browser (issue 12): Chromium on a page of another origin calls
the API with fetch() — the origins in CORS_ALLOWED_ORIGINS can, any other is blocked by the
browser — and /docs keeps a token typed into "Authorize" out of the browser's storage."""

import pytest

from accounts.models import AuthToken
from tests.browser import NEEDS_CHROMIUM, serving_page
from tests.factories import PASSWORD

pytestmark = [
    *NEEDS_CHROMIUM,
    # The live server needs a transactional test, which empties the database when it ends:
    # serialized rollback puts the migrations' rows (the moderators group) back.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# The web app: signs in with a JSON body and reads a profile with the token, as a browser client
# does; both calls need a preflight (a JSON content type, an Authorization header).
WEB_APP_PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>web app</title></head><body>
<script>
async function signInAndReadProfile(api, email, password) {
  try {
    const login = await fetch(api + "/login", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({email: email, pass: password}),
    }).then((response) => response.json());
    const info = await fetch(api + "/get_info?email=" + encodeURIComponent(email), {
      headers: {"Authorization": "Bearer " + login.data.token},
    }).then((response) => response.json());
    return {login: login.status, info: info.status, email: info.data.email};
  } catch (error) {
    return {blocked: error.name};
  }
}
</script>
</body></html>"""


@pytest.fixture(scope="module")
def web_app_origin():
    """The origin of a second server on another port, serving the web app's page."""
    with serving_page(WEB_APP_PAGE) as origin:
        yield origin


@pytest.fixture
def web_app(browser, web_app_origin):
    """The web app's page, open in a fresh browser context."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(web_app_origin)
    yield page
    context.close()


def sign_in_from(page, api_url, user):
    return page.evaluate(
        "([api, email, password]) => signInAndReadProfile(api, email, password)",
        [api_url, user.email, PASSWORD],
    )


def test_an_allowed_origin_signs_in_and_reads(web_app, web_app_origin, live_server, user, settings):
    settings.CORS_ALLOWED_ORIGINS = [web_app_origin]
    assert live_server.url.split(":")[-1] != web_app_origin.split(":")[-1]  # two origins
    result = sign_in_from(web_app, live_server.url, user)
    assert result == {"login": 1002, "info": 6001, "email": user.email}


def test_an_origin_not_listed_is_blocked_by_the_browser(web_app, live_server, user, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    assert sign_in_from(web_app, live_server.url, user) == {"blocked": "TypeError"}
    # The preflight failed, so the browser never sent the login itself.
    assert not AuthToken.objects.filter(user=user).exists()


def test_docs_keep_no_token_in_the_browser(browser, live_server, user):
    """Swagger UI's persistAuthorization wrote a token typed into "Authorize" to localStorage,
    where it outlived the page: any script of the origin, or the next person at the browser,
    could read it."""
    token = AuthToken.objects.issue(user)
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto("/docs")
        page.click("button.authorize")
        page.fill(".auth-container input", token)
        page.click(".auth-container button[type=submit]")
        page.click("button.btn-done")
        authorized = "() => window.ui.authSelectors.authorized().toJS()"
        assert page.evaluate(authorized)["bearerAuth"]["value"] == token  # in use on this page
        storage = page.evaluate("() => JSON.stringify(Object.assign({}, localStorage))")
        assert token not in storage
        page.reload()
        page.wait_for_selector("button.authorize")
        assert page.evaluate(authorized) == {}
    finally:
        context.close()
