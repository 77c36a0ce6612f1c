from django.apps import AppConfig
from django.db.models.signals import post_save


class FriendsConfig(AppConfig):
    name = "friends"
    verbose_name = "好友"

    def ready(self):
        from accounts import extensions
        from accounts.models import User
        from friends.interests import sync_on_save
        from friends.models import Block
        from friends.queries import listed_friend_count

        def hide_blocked(users, viewer):
            """Users blocked by `viewer`, or who blocked `viewer`, are hidden either way."""
            return users.filter(Block.objects.unblocked_q(viewer))

        extensions.visibility_rules.append(hide_blocked)
        extensions.owner_counts["friend_count"] = listed_friend_count
        # Interest tags follow `like` wherever it is saved; accounts never imports friends.
        post_save.connect(sync_on_save, sender=User, dispatch_uid="friends.sync_interests")
