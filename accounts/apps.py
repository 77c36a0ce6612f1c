from django.apps import AppConfig
from django.db.models.signals import post_delete


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "账号"

    def ready(self):
        from accounts.avatars import delete_avatar_of_deleted_user
        from accounts.models import User

        post_delete.connect(
            delete_avatar_of_deleted_user, sender=User, dispatch_uid="accounts.avatar_cleanup"
        )
