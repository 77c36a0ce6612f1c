"""Per-address limits behind a reverse proxy: every request then comes from the proxy's address,
so the client's is read from X-Forwarded-For (TRUSTED_PROXIES), and only the entry the
proxy added counts."""

import pytest

from accounts.services import CODES_PER_ADDRESS_PER_HOUR
from tests.factories import PASSWORD, ApiClient

pytestmark = pytest.mark.django_db


def through_the_proxy(forwarded_for):
    """A client whose requests reach gunicorn from a proxy on this machine."""
    return ApiClient(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded_for)


def use_up_the_sign_up_codes(client):
    for number in range(CODES_PER_ADDRESS_PER_HOUR):
        body = client.post("/register1", {"email": f"n{number}@example.com"}).json()
        assert body["status"] == 1004
    response = client.post("/register1", {"email": "one-more@example.com"})
    assert (response.status_code, response.json()["status"]) == (429, 9429)


def test_each_client_behind_the_proxy_has_its_own_limit(settings, mailoutbox):
    settings.TRUSTED_PROXIES = 1
    use_up_the_sign_up_codes(through_the_proxy("203.0.113.7"))
    other = through_the_proxy("198.51.100.2")
    assert other.post("/register1", {"email": "one-more@example.com"}).json()["status"] == 1004


def test_a_forged_entry_does_not_escape_the_limit(settings, mailoutbox):
    settings.TRUSTED_PROXIES = 1
    use_up_the_sign_up_codes(through_the_proxy("203.0.113.7"))
    # The client sent "X-Forwarded-For: 10.9.9.9"; the proxy appended the address it saw.
    forged = through_the_proxy("10.9.9.9, 203.0.113.7")
    body = forged.post("/register1", {"email": "another@example.com"}).json()
    assert body["status"] == 9429


def test_without_proxies_the_header_is_ignored(mailoutbox):
    use_up_the_sign_up_codes(through_the_proxy("203.0.113.7"))
    body = through_the_proxy("198.51.100.2").post("/register1", {"email": "x@example.com"}).json()
    assert body["status"] == 9429


def test_login_failures_count_per_client_behind_the_proxy(settings, make_user):
    settings.TRUSTED_PROXIES = 1
    other = make_user()
    guesser = through_the_proxy("203.0.113.7")
    for number in range(20):
        guesser.post("/login", {"email": f"ghost{number}@example.com", "pass": "x"})
    right = {"email": other.email, "pass": PASSWORD}
    assert guesser.post("/login", right).json()["status"] == 1003
    assert through_the_proxy("198.51.100.2").post("/login", right).json()["status"] == 1002
