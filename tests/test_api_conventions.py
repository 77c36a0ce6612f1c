"""API.md "Conventions": the envelope, the 9xxx table and parameter reading, whatever DEBUG is."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.urls import path

from socialsite import urls as project_urls
from socialsite.api import api, envelope, read_page
from tests.factories import ApiClient

pytestmark = pytest.mark.django_db


@api(("GET", "POST"), auth=False)
def echo(request, params):
    return envelope(0, "ok", params=params.data)


@api(("GET", "POST"), auth=False, lists=("items",))
def echo_lists(request, params):
    return envelope(0, "ok", params=params.data, items=params.getlist("items"))


@api(("GET",), auth=False)
def paged(request, params):
    start, limit = read_page(params)
    return envelope(0, "ok", start=start, limit=limit)


def explode(request):
    raise RuntimeError("secret detail that must not leak")


@api(("GET",), auth=False)
def explode_in_api(request, params):
    raise RuntimeError("secret detail that must not leak")


urlpatterns = [
    path("echo", echo),
    path("echo_lists", echo_lists),
    path("paged", paged),
    path("explode", explode),
    path("explode_in_api", explode_in_api),
    *project_urls.urlpatterns,
]
handler404 = project_urls.handler404
handler500 = project_urls.handler500


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    settings.ROOT_URLCONF = __name__
    return request.param


def assert_error(response, http_status, status, msg):
    assert response.status_code == http_status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert (body["status"], body["msg"]) == (status, msg)
    return body


def test_unknown_path(anon, debug):
    assert_error(anon.get("/no-such-endpoint"), 404, 9404, "接口不存在")
    assert_error(anon.get("/login/"), 404, 9404, "接口不存在")  # no trailing slashes


def test_wrong_method_lists_the_allowed_ones(anon, debug):
    response = anon.get("/login")
    assert_error(response, 405, 9405, "请求方法不允许")
    assert response["Allow"] == "POST"


def test_method_is_checked_before_authentication(anon, debug):
    assert anon.get("/logout").status_code == 405


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[1, 2]",
        '"text"',
        "\xff",
        "[" * 10_000,  # deeper than the parser's recursion (and under API_MAX_BODY_SIZE)
        '{"a": ' + "9" * 5000 + "}",  # over Python's 4300-digit integer limit
        '{"a": "\\ud800"}',  # a lone surrogate: valid JSON, but no UTF-8 text
        '{"\\udfff": "x"}',
    ],
    ids=["syntax", "list", "string", "bad-utf8", "deep", "long-int", "surrogate", "surrogate-key"],
)
def test_malformed_json_body(anon, debug, body):
    response = anon.post("/echo", body, content_type="application/json")
    body = assert_error(response, 400, 9400, "参数格式错误")
    assert "body" in body["errors"]


@pytest.mark.parametrize("value", [{"$ne": ""}, ["a"], True, False], ids=repr)
def test_json_value_that_is_no_string_or_number(anon, debug, value):
    # `true` read as "1" would have passed for group 1, id 1 or time 1.
    response = anon.post_json("/echo", {"email": value})
    assert assert_error(response, 400, 9400, "参数格式错误")["errors"] == {
        "email": ["应为字符串或数字。"]
    }


@pytest.mark.parametrize(
    "body",
    [
        '{"email": "\\ud800@example.com"}',  # a lone surrogate: no database can store it
        '{"\\udfff": "x"}',  # in a key, which an error message would echo
        '{"time": ' + "9" * 5000 + "}",  # past Python's 4300-digit limit for int()
        '{"a": ' + "[" * 10_000 + "]" * 10_000 + "}",  # nested past the recursion limit
    ],
    ids=["surrogate-value", "surrogate-key", "huge-number", "deep-nesting"],
)
def test_json_bodies_the_fuzzer_found(anon, debug, body):
    """Each of these was a 500 before; tests/test_fuzz.py sends such bodies."""
    response = anon.post("/echo", body, content_type="application/json")
    assert "body" in assert_error(response, 400, 9400, "参数格式错误")["errors"]


def test_json_form_and_query_parameters(anon, debug):
    assert anon.post_json("/echo", {"a": "x", "n": 3, "empty": "", "none": None}).json()[
        "params"
    ] == {"a": "x", "n": "3"}
    assert anon.post("/echo", {"a": "x", "empty": ""}).json()["params"] == {"a": "x"}
    assert anon.get("/echo", {"a": "中文", "empty": ""}).json()["params"] == {"a": "中文"}
    # POST reads the body only: a query string does not smuggle parameters in.
    assert anon.post("/echo?b=1", {"a": "x"}).json()["params"] == {"a": "x"}


def test_repeated_parameters(anon, debug):
    """An endpoint's `lists` (/putPost's `images`): a JSON array of strings, or the field
    repeated in a form or a query string; empty strings dropped; every other parameter as
    before."""
    sent = {"a": "x", "items": ["1", "", "2"]}
    expected = {"status": 0, "msg": "ok", "params": {"a": "x"}, "items": ["1", "2"]}
    assert anon.post_json("/echo_lists", sent).json() == expected
    assert anon.post("/echo_lists", sent).json() == expected
    assert anon.get("/echo_lists", sent).json() == expected
    assert anon.post_json("/echo_lists", {"a": "x", "items": None}).json()["items"] == []
    assert anon.post("/echo_lists", {"a": "x"}).json()["items"] == []
    for value in ["1", ["1", 2], [["1"]], {"1": "2"}, True]:
        response = anon.post_json("/echo_lists", {"items": value})
        assert assert_error(response, 400, 9400, "参数格式错误")["errors"] == {
            "items": ["应为字符串数组。"]
        }
    response = anon.post_json("/echo_lists", {"a": ["x"]})
    assert assert_error(response, 400, 9400, "参数格式错误")["errors"] == {
        "a": ["应为字符串或数字。"]
    }


def test_body_over_the_limit(anon, debug, settings):
    settings.API_MAX_BODY_SIZE = 1024
    response = anon.post("/echo", {"a": "x" * 2048})
    assert_error(response, 413, 9413, "请求体过大")
    response = anon.post(
        "/echo", "{" + '"a": "' + "x" * 2048 + '"}', content_type="application/json"
    )
    assert_error(response, 413, 9413, "请求体过大")


def test_file_parts_count_towards_the_body_limit(anon, debug, settings):
    # Django leaves file parts out of its own limit; the API reads no files, so they count.
    settings.API_MAX_BODY_SIZE = 1024
    upload = SimpleUploadedFile("big.bin", b"x" * 2048)
    assert_error(anon.post("/echo", {"a": "x", "f": upload}), 413, 9413, "请求体过大")


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "multipart/form-data; boundary=\x01"]
)
def test_malformed_multipart_body(anon, debug, content_type):
    response = anon.post("/echo", b"a=b", content_type=content_type)
    assert "body" in assert_error(response, 400, 9400, "参数格式错误")["errors"]


@pytest.mark.parametrize("view", ["/explode", "/explode_in_api"])
def test_unexpected_exception_is_a_json_500_without_details(debug, view, caplog):
    client = ApiClient(raise_request_exception=False)
    response = client.get(view)
    assert_error(response, 500, 9500, "服务器内部错误")
    assert b"secret detail" not in response.content
    assert "secret detail" in caplog.text  # logged for the operators


def test_bad_host_header_is_json(debug):
    client = ApiClient(raise_request_exception=False)
    response = client.get("/healthz", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["status"] == 9400


@pytest.mark.parametrize(
    ("query", "expected"),
    [({}, (0, 20)), ({"start": "5", "limit": "7"}, (5, 7)), ({"limit": "1000"}, (0, 100))],
)
def test_paging(anon, debug, query, expected):
    body = anon.get("/paged", query).json()
    assert (body["start"], body["limit"]) == expected


@pytest.mark.parametrize("query", [{"start": "-1"}, {"limit": "0"}, {"limit": "ten"}])
def test_malformed_paging(anon, debug, query):
    body = assert_error(anon.get("/paged", query), 400, 9400, "参数格式错误")
    assert set(body["errors"]) == set(query)


def test_non_ascii_is_not_escaped(anon, debug):
    response = anon.get("/echo", {"name": "小明"})
    assert "小明" in response.content.decode("utf-8")
    assert response["Content-Type"] == "application/json"


def test_the_admin_keeps_csrf(superuser):
    client = ApiClient(enforce_csrf_checks=True)
    client.force_login(superuser)
    response = client.post("/admin/accounts/user/", {"action": "delete_selected"})
    assert response.status_code == 403


class TestHealthz:
    def test_ok(self, anon):
        response = anon.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {
            "status": 0,
            "msg": "ok",
            "db": "ok",
            "cache": "ok",
            "channels": "ok",
        }

    def test_cache_down(self, anon, settings):
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            }
        }
        response = anon.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {
            "status": 9503,
            "msg": "服务暂不可用",
            "db": "ok",
            "cache": "error",
            "channels": "ok",
        }

    def test_database_down(self, anon, monkeypatch):
        def refuse(*args, **kwargs):
            raise connection.Database.OperationalError("connection refused")

        monkeypatch.setattr(connection, "cursor", refuse)
        with override_settings(
            CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        ):
            response = anon.get("/healthz")
        assert response.status_code == 503
        body = response.json()
        assert (body["status"], body["db"], body["cache"]) == (9503, "error", "ok")


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        ("get", "/get_info", {"email": "alice\x00@example.com"}, 6000),
        ("get", "/getPost", {"email": "alice\x00@example.com"}, 3002),
        ("get", "/delPost", {"email": "alice\x00@example.com", "id": "1"}, 3004),
        ("post", "/delComment", {"email": "alice\x00@example.com", "id": "1"}, 3004),
        ("post", "/report", {"email": "alice@example.com", "femail": "b\x00", "reason": "x"}, 7000),
        ("post", "/check_email", {"email": "new\x00@example.com", "value": "123456"}, 1003),
    ],
)
def test_an_email_with_nul_names_nobody(api, method, path, data, status):
    """PostgreSQL refuses NUL in a query: each of these lookups was a 500 there."""
    response = getattr(api, method)(path, data)
    assert response.status_code == 200
    assert response.json()["status"] == status
    if status == 3002:
        assert response.json()["data"] == []
