from django.apps import AppConfig


class FriendsConfig(AppConfig):
    name = "friends"
    verbose_name = "好友"

    def ready(self):
        from accounts import extensions
        from friends.models import Block, Friendship

        def hide_blocked(users, viewer):
            """Users blocked by `viewer`, or who blocked `viewer`, are hidden either way."""
            return users.exclude(
                pk__in=Block.objects.filter(blocker=viewer).values("blocked")
            ).exclude(pk__in=Block.objects.filter(blocked=viewer).values("blocker"))

        extensions.visibility_rules.append(hide_blocked)
        extensions.owner_counts["friend_count"] = lambda user: Friendship.objects.filter(
            owner=user
        ).count()
