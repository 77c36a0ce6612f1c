"""`manage.py purge_expired`: delete the sign-in records that can never be used again. Run it
daily (from cron, say), as one runs Django's clearsessions."""

from django.core.management.base import BaseCommand

from accounts import services


class Command(BaseCommand):
    help = (
        "Delete API tokens expired or revoked over a week ago (the admin keeps showing the "
        "recent ones) and sign-up and password-reset codes past their expiry."
    )

    def handle(self, *args, **options):
        tokens, codes = services.purge_expired()
        self.stdout.write(f"Deleted {tokens} tokens and {codes} mailed codes.")
