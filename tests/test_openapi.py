"""docs/openapi.yaml, served at /openapi.json and shown at /docs, and kept in step with the
URLconf: every routed path is described and every described path is routed, with the methods
each view accepts."""

import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate

from socialsite import openapi
from socialsite import urls as project_urls

pytestmark = pytest.mark.django_db

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def routed_paths(patterns, prefix=""):
    """Every path the URLconf routes, but the admin's and the media files'."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route != "admin/":
                yield from routed_paths(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and pattern.callback is not project_urls.serve_media:
            yield "/" + route


def documented_methods(path):
    return {method.upper() for method in openapi.document()["paths"][path]}


def test_the_document_is_valid_openapi_3_1():
    validate(openapi.document())  # raises with the first error


def test_the_document_describes_exactly_the_routed_paths():
    routed = set(routed_paths(get_resolver().url_patterns))
    assert "/login" in routed and "/openapi.json" in routed  # the walk found the apps' routes
    assert not any(re.search(r"[<>(^$]", path) for path in routed)  # plain paths only
    assert routed == set(openapi.document()["paths"])


@pytest.mark.parametrize("path", sorted(openapi.document()["paths"]))
def test_each_path_accepts_exactly_the_documented_methods(anon, path):
    allowed = documented_methods(path)
    for method in METHODS:
        response = anon.generic(method, path)
        if method in allowed:
            assert response.status_code != 405, method
        else:
            assert response.status_code == 405, method
            assert response.json()["status"] == 9405
            assert set(response["Allow"].split(", ")) == allowed


def test_operations_without_a_token_are_those_api_md_names(anon):
    public = {
        path
        for path, operations in openapi.document()["paths"].items()
        for operation in operations.values()
        if operation.get("security") == []
    }
    assert public == {
        "/register1",
        "/check_email",
        "/register2",
        "/get_yzm",
        "/login",
        "/forget1",
        "/forget2",
        "/healthz",
        "/openapi.json",
        "/docs",
    }
    for path in openapi.document()["paths"]:
        for method in documented_methods(path):
            response = anon.generic(method, path)
            assert (response.status_code == 401) == (path not in public), (method, path)


def test_openapi_json_is_the_yaml_document_without_a_token(anon):
    response = anon.get("/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    served = json.loads(response.content)
    assert served == openapi.document()
    assert served["openapi"].startswith("3.1")
    assert served["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": served["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    # Chinese stays readable, as in every other response.
    assert "参数格式错误".encode() in response.content


def test_every_operation_lists_its_status_codes_as_an_enum():
    for path, operations in openapi.document()["paths"].items():
        for method, operation in operations.items():
            ok = operation["responses"]["200"]["content"]
            if path in {"/docs", "/openapi.json", "/healthz"}:
                continue
            schema = ok["application/json"]["schema"]
            if "$ref" in schema:
                name = schema["$ref"].rsplit("/", 1)[1]
                schema = openapi.document()["components"]["schemas"][name]
            codes = schema["properties"]["status"]["enum"]
            assert codes and all(0 < code < 9000 for code in codes), (method, path)


def test_docs_page_is_swagger_ui_from_the_sites_own_static_files(anon):
    response = anon.get("/docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert 'data-spec-url="/openapi.json"' in page
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(asset.startswith("/static/") for asset in assets)  # no CDN
    for asset in assets:
        served = anon.get(asset)
        assert served.status_code == 200, asset
        assert b"".join(served.streaming_content)


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_docs_paths_answer_errors_as_json(anon, path):
    response = anon.post(path)
    assert response.status_code == 405
    assert response.json() == {"status": 9405, "msg": "请求方法不允许"}
    assert response["Allow"] == "GET"
