"""What a request may cost before it carries a token (issue 12): the body's size, checked from its
Content-Length before anything else (API.md's check order), the keys of a JSON object and the
fields of a form; no error message that names the server's files; no cache that keeps a token."""

import logging
import time

import pytest
from django.test.client import BOUNDARY, encode_multipart

from tests.factories import PASSWORD, register, routed_api_paths

pytestmark = pytest.mark.django_db

KiB, MiB = 1024, 1024 * 1024
IMAGE_ENDPOINTS = {"register2", "reset", "putPost"}
TOO_LARGE = {"status": 9413, "msg": "请求体过大"}


def json_object_of(keys, **fields):
    """The bytes of a JSON object of `keys` padding keys ("k0": "v", …) besides `fields`."""
    padding = ",".join(f'"k{number}":"v"' for number in range(keys))
    named = ",".join(f'"{name}":"{value}"' for name, value in fields.items())
    return ("{" + ",".join(part for part in (named, padding) if part) + "}").encode()


def cpu_seconds(call):
    """(the answer of `call()`, the CPU seconds this process spent on it)."""
    started = time.process_time()
    answer = call()
    return answer, time.process_time() - started


def test_600000_keys_on_login_cost_no_parsing(anon):
    """The attack of the issue: 8 MB, 600,000 keys, no token. It cost 1.5 s of CPU here."""
    attack = json_object_of(600_000)
    assert len(attack) > 8 * 10**6
    response, seconds = cpu_seconds(
        lambda: anon.post("/login", attack, content_type="application/json")
    )
    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    assert seconds < 0.1


@pytest.mark.parametrize("path", sorted(routed_api_paths() - IMAGE_ENDPOINTS))
def test_every_endpoint_but_the_image_ones_refuses_over_64_kib(anon, path):
    # Body size comes first: before the method (GET endpoints) and the token (most of them).
    response = anon.post(f"/{path}", {"pad": "x" * (64 * KiB)})
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


def test_exactly_64_kib_is_read(anon, user):
    fields = {"email": user.email, "pass": PASSWORD}
    body = json_object_of(0, **fields, pad="")
    body = body[:-2] + b"x" * (64 * KiB - len(body)) + b'"}'
    assert len(body) == 64 * KiB
    assert anon.post("/login", body, content_type="application/json").json()["status"] == 1002


def test_size_comes_before_the_method_and_the_token(anon):
    response = anon.generic("GET", "/get_info", "x" * (64 * KiB + 1))
    assert (response.status_code, response.json()) == (413, TOO_LARGE)
    response = anon.get("/get_info")
    assert (response.status_code, response.json()["status"]) == (401, 9401)


@pytest.mark.parametrize("path", sorted(IMAGE_ENDPOINTS))
def test_the_image_endpoints_keep_8_mib(api, path):
    assert api.post(f"/{path}", {"pad": "x" * MiB}).status_code == 200
    response = api.post(f"/{path}", {"pad": "x" * (8 * MiB)})
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


def test_the_limit_is_a_setting(anon, settings):
    settings.API_MAX_BODY_SIZE = 1 * KiB
    assert anon.post("/login", {"pad": "x" * KiB}).status_code == 413
    settings.API_MAX_BODY_SIZE = 128 * KiB
    assert anon.post("/login", {"pad": "x" * (64 * KiB)}).json()["status"] == 1007


# Keys and fields


def test_a_json_object_of_1000_keys_is_read(anon, user):
    body = json_object_of(998, email=user.email, **{"pass": PASSWORD})
    assert anon.post("/login", body, content_type="application/json").json()["status"] == 1002


@pytest.mark.parametrize("path", ["login", "register2"])
def test_a_json_object_of_1001_keys_is_refused(anon, user, path):
    body = json_object_of(999, email=user.email, **{"pass": PASSWORD})
    response = anon.post(f"/{path}", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "status": 9400,
        "msg": "参数格式错误",
        "errors": {"body": ["JSON 对象的键至多 1000 个。"]},
    }


def test_a_nested_object_of_1001_keys_is_refused(anon):
    body = b'{"email": ' + json_object_of(1001) + b"}"
    response = anon.post("/login", body, content_type="application/json")
    assert response.json()["errors"] == {"body": ["JSON 对象的键至多 1000 个。"]}


# 1001 multipart fields are over 64 KiB: those go to an image endpoint.
@pytest.mark.parametrize(
    ("path", "content_type"), [("login", "urlencoded"), ("register2", "multipart")]
)
def test_a_form_of_1001_fields_is_refused(anon, user, path, content_type):
    fields = {f"k{number}": "v" for number in range(999)}
    fields.update(email=user.email, **{"pass": PASSWORD})
    if content_type == "urlencoded":
        form = "&".join(f"{name}={value}" for name, value in fields.items())
        response = anon.post(f"/{path}", form, content_type="application/x-www-form-urlencoded")
    else:
        response = anon.post(f"/{path}", fields)
    assert response.status_code == 400
    assert response.json()["errors"] == {"body": ["字段至多 1000 个。"]}


@pytest.mark.parametrize("content_type", ["urlencoded", "multipart"])
def test_many_form_fields_in_8_mib_cost_no_parsing(anon, content_type):
    """An image endpoint without a token reads up to 8 MiB: Django counts a form's fields before
    it parses them, and stops a multipart body at the 1001st."""
    if content_type == "urlencoded":
        form = "&".join(f"k{number}=v" for number in range(600_000))
        kind = "application/x-www-form-urlencoded"
    else:
        form = encode_multipart(BOUNDARY, {f"k{number}": "v" for number in range(100_000)})
        kind = f"multipart/form-data; boundary={BOUNDARY}"
    assert len(form) > 5 * MiB
    response, seconds = cpu_seconds(lambda: anon.post("/register2", form, content_type=kind))
    assert response.json()["errors"] == {"body": ["字段至多 1000 个。"]}
    assert seconds < 0.2


# Error messages


def test_a_path_outside_media_names_no_server_path(anon, caplog, settings):
    """A `..` past MEDIA_ROOT was a 9400 quoting the absolute paths of both (SuspiciousFile-
    Operation's text)."""
    with caplog.at_level(logging.WARNING, logger="django.security"):
        response = anon.get("/media/..%2fdb.sqlite3")
    assert response.status_code == 400
    assert response.json() == {
        "status": 9400,
        "msg": "参数格式错误",
        "errors": {"request": ["请求无效。"]},
    }
    answer = response.content.decode()
    for server_path in (settings.BASE_DIR, settings.MEDIA_ROOT, "/"):
        assert str(server_path) not in answer
    assert str(settings.MEDIA_ROOT) in caplog.text  # the detail is the operators'


# Caches


def test_a_login_is_never_cached(anon, user):
    response = anon.post("/login", {"email": user.email, "pass": PASSWORD})
    assert response.json()["status"] == 1002
    assert response["Cache-Control"] == "no-store"


def test_a_sign_up_is_never_cached(anon, mailoutbox):
    response = register(anon, mailoutbox)
    assert response.json()["status"] == 1005
    assert response["Cache-Control"] == "no-store"
