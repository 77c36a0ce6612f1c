"""The shape of the code that docs/ARCHITECTURE.md prescribes, checked on the source: imports
point one way, business codes live in each app's catalogue and match the documentation,
services know no HTTP."""

import ast
import importlib
import re
from pathlib import Path

import pytest

from socialsite.errors import Code

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "friends", "feed", "chat", "notices")
# What each package may not import: the toolkit no app; an app nothing above it. notices, above
# feed and chat (it follows their rows by signals), may import every app and none imports it.
FORBIDDEN = {
    "socialsite": set(APPS),
    "accounts": {"friends", "feed", "chat", "notices"},
    "friends": {"feed", "chat", "notices"},
    "feed": {"chat", "notices"},
    "chat": {"feed", "notices"},
}
# The top of the chain, which may import every app: the demo data (docs/ARCHITECTURE.md).
TOP_OF_THE_CHAIN = {ROOT / "feed/management/commands/seed_demo.py"}
CATALOGUES = (
    "socialsite.errors",
    "accounts.errors",
    "friends.errors",
    "feed.errors",
    "chat.errors",
    "notices.errors",
)
DOCUMENTS = ("docs/API.md", "docs/openapi.yaml")


def python_files(package):
    return sorted(path for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts)


def imported_packages(source):
    """The top-level package of every import in `source`, at any depth (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_import_walk_sees_imports_inside_functions():
    source = "import os\n\ndef f():\n    from accounts.models import User\n    import feed.views\n"
    assert imported_packages(source) == {"os", "accounts", "feed"}


@pytest.mark.parametrize("package", [name for name in FORBIDDEN if (ROOT / name).is_dir()])
def test_no_upward_import(package):
    upward = {
        f"{path.relative_to(ROOT)}: {sorted(imported & FORBIDDEN[package])}"
        for path in python_files(package)
        if path not in TOP_OF_THE_CHAIN
        if (imported := imported_packages(path.read_text())) & FORBIDDEN[package]
    }
    assert not upward


def test_only_the_top_of_the_chain_is_exempt():
    """The exemption is seed_demo's alone, and it is used: seed_demo makes rows of every app."""
    (seed_demo,) = TOP_OF_THE_CHAIN
    assert imported_packages(seed_demo.read_text()) & set(APPS) == set(APPS)


def catalogue_codes():
    for module_name in CATALOGUES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if isinstance(value, Code):
                yield pytest.param(value, id=f"{module_name}.{name}")


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("code", list(catalogue_codes()))
def test_every_catalogued_code_is_documented_with_its_message(code, document):
    lines = (ROOT / document).read_text().splitlines()
    status = re.compile(rf"\b{code.status}\b")
    assert any(status.search(line) and code.msg in line for line in lines), (
        f"{document} has no line with {code.status} and {code.msg}"
    )


def test_the_catalogues_name_each_code_once():
    for module_name in CATALOGUES:
        values = vars(importlib.import_module(module_name)).values()
        codes = [value for value in values if isinstance(value, Code)]
        assert len(codes) == len(set(codes)), module_name


def source_files():
    for package in ("socialsite", *APPS):
        if (ROOT / package).is_dir():
            yield from python_files(package)


@pytest.mark.parametrize(
    "pattern",
    [
        re.compile(r"ApiError\(\s*\d"),  # a code written inline
        re.compile(r"\bCode\(\s*\d"),  # a code defined outside a catalogue
    ],
    ids=["ApiError(literal)", "Code(literal)"],
)
def test_codes_are_written_only_in_the_catalogues(pattern):
    catalogues = {ROOT / (name.replace(".", "/") + ".py") for name in CATALOGUES}
    inline = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in source_files()
        if path not in catalogues
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not inline


@pytest.mark.parametrize("app", [app for app in APPS if (ROOT / app / "services.py").exists()])
def test_services_know_no_http(app):
    """A service raises its app's codes or a ValidationError: the transport codes (9xxx) and the
    request belong to the toolkit and the views."""
    tree = ast.parse((ROOT / app / "services.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "socialsite.errors":
            assert {alias.name for alias in node.names} <= {"ApiError"}
        if isinstance(node, ast.ImportFrom) and node.module in {"socialsite", "django.http"}:
            assert "errors" not in {alias.name for alias in node.names}
            assert node.module != "django.http"
        if isinstance(node, ast.arg):
            assert node.arg != "request"
