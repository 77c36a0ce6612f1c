"""`manage.py purge_expired`: dead tokens and expired mailed codes (sign-up, password reset) go,
everything usable stays."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import AuthToken, EmailCode, PasswordResetCode

pytestmark = pytest.mark.django_db


def test_deletes_only_what_can_never_be_used_again(user, bob, capsys):
    now = timezone.now()
    week_and_a_day, day = timedelta(days=8), timedelta(days=1)
    tokens = {}
    for label, fields in {
        "usable": {},
        "expired long ago": {"expires_at": now - week_and_a_day},
        "revoked long ago": {"revoked_at": now - week_and_a_day},
        "expired yesterday": {"expires_at": now - day},
        "revoked yesterday": {"revoked_at": now - day},
    }.items():
        AuthToken.objects.issue(user)
        token = AuthToken.objects.latest("pk")
        AuthToken.objects.filter(pk=token.pk).update(**fields)
        tokens[label] = token.pk
    EmailCode.objects.create(email="old@example.com", code_hash="x", expires_at=now - day)
    EmailCode.objects.create(email="new@example.com", code_hash="x", expires_at=now + day)
    PasswordResetCode.objects.create(user=user, code_hash="x", expires_at=now - day)
    PasswordResetCode.objects.create(user=bob, code_hash="x", expires_at=now + day)

    call_command("purge_expired")

    kept = set(AuthToken.objects.values_list("pk", flat=True))
    assert kept == {tokens[label] for label in ("usable", "expired yesterday", "revoked yesterday")}
    assert list(EmailCode.objects.values_list("email", flat=True)) == ["new@example.com"]
    assert list(PasswordResetCode.objects.values_list("user", flat=True)) == [bob.pk]
    assert "Deleted 2 tokens and 2 mailed codes." in capsys.readouterr().out
