"""The admin pages for users and tokens, and `createsuperuser` by email."""

import pytest
from django.core.management import call_command

from accounts.models import AuthToken, User

pytestmark = pytest.mark.django_db


def test_createsuperuser_by_email(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-strong-admin-pass")
    call_command("createsuperuser", "--noinput", "--email", "Boss@Example.com")
    boss = User.objects.get(email="boss@example.com")
    assert boss.is_superuser and boss.is_staff
    assert boss.check_password("a-strong-admin-pass")


def test_user_changelist_searches_and_filters(superuser_client, make_user):
    make_user(email="findme@example.com", username="needle")
    response = superuser_client.get("/admin/accounts/user/", {"q": "needle"})
    assert response.status_code == 200
    assert "findme@example.com" in response.content.decode()
    response = superuser_client.get("/admin/accounts/user/", {"is_active__exact": "1", "sex": "男"})
    assert response.status_code == 200


def test_token_admin_never_shows_the_hash(superuser_client, user):
    AuthToken.objects.issue(user)
    token = AuthToken.objects.get(user=user)
    for url in ("/admin/accounts/authtoken/", f"/admin/accounts/authtoken/{token.pk}/change/"):
        response = superuser_client.get(url)
        assert response.status_code == 200
        assert token.key_hash not in response.content.decode()
    assert superuser_client.get("/admin/accounts/authtoken/add/").status_code == 403


def test_token_admin_revoke_action(superuser_client, user):
    key = AuthToken.objects.issue(user)
    token = AuthToken.objects.get(user=user)
    response = superuser_client.post(
        "/admin/accounts/authtoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuthToken.objects.find(key).is_usable() is False
