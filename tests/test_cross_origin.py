"""Cross-origin calls (API.md "Conventions", issue 12): the origins in CORS_ALLOWED_ORIGINS get the
CORS headers and an answered preflight, every other origin none; the admin never. What a real
browser makes of them is tests/test_web_client_browser.py."""

import pytest

pytestmark = pytest.mark.django_db

WEB_APP = "https://app.example.com"


@pytest.fixture
def allowed(settings):
    settings.CORS_ALLOWED_ORIGINS = [WEB_APP]


def preflight(client, path, origin, method="POST", headers="authorization,content-type"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


@pytest.mark.parametrize(("path", "method"), [("/login", "POST"), ("/get_info", "GET")])
def test_a_preflight_from_an_allowed_origin_is_answered_without_a_token(
    anon, allowed, path, method
):
    # Neither the method check (OPTIONS is no method of these) nor the token check answers it.
    response = preflight(anon, path, WEB_APP, method)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == WEB_APP
    allowed_headers = response["Access-Control-Allow-Headers"].split(", ")
    assert set(allowed_headers) == {"authorization", "content-type"}
    assert method in response["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response  # no cookie authenticates


def test_answers_to_an_allowed_origin_carry_the_header_errors_too(anon, api, user, allowed):
    response = api.get("/get_info", {"email": user.email}, HTTP_ORIGIN=WEB_APP)
    assert (response.json()["status"], response["Access-Control-Allow-Origin"]) == (6001, WEB_APP)
    response = anon.get("/get_info", HTTP_ORIGIN=WEB_APP)  # the app reads the 9401 too
    assert (response.status_code, response["Access-Control-Allow-Origin"]) == (401, WEB_APP)


@pytest.mark.parametrize("origin", ["https://evil.example", "http://app.example.com"])
def test_another_origin_gets_no_cors_header(anon, api, user, allowed, origin):
    assert "Access-Control-Allow-Origin" not in preflight(anon, "/login", origin)
    response = api.get("/get_info", {"email": user.email}, HTTP_ORIGIN=origin)
    assert "Access-Control-Allow-Origin" not in response


def test_no_origin_is_allowed_by_default(anon):
    assert "Access-Control-Allow-Origin" not in preflight(anon, "/login", WEB_APP)


def test_the_admin_gets_no_cors_header(superuser_client, allowed):
    response = superuser_client.get("/admin/", HTTP_ORIGIN=WEB_APP)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in preflight(superuser_client, "/admin/", WEB_APP)


def test_options_that_is_no_preflight_is_a_wrong_method(anon, allowed):
    response = anon.options("/login", HTTP_ORIGIN=WEB_APP)
    assert (response.status_code, response.json()["status"]) == (405, 9405)
