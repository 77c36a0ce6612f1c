from django.apps import AppConfig
from django.db.models.signals import post_save


class NoticesConfig(AppConfig):
    name = "notices"
    verbose_name = "通知"

    def ready(self):
        from feed.models import Comment, Like
        from friends.models import Friendship
        from notices import services

        # The apps below make what notices are about and never import this app: it follows
        # their new rows (docs/ARCHITECTURE.md, "Dependencies").
        post_save.connect(
            services.friendship_saved, sender=Friendship, dispatch_uid="notices.follow"
        )
        post_save.connect(services.comment_saved, sender=Comment, dispatch_uid="notices.comment")
        post_save.connect(services.like_saved, sender=Like, dispatch_uid="notices.like")
