from django.apps import AppConfig


class FeedConfig(AppConfig):
    name = "feed"
    verbose_name = "动态"

    def ready(self):
        from accounts import extensions
        from feed.models import Post
        from feed.services import image_files_of_accounts

        extensions.owner_counts["post_count"] = lambda user: (
            Post.objects.visible().filter(author=user).count()
        )
        extensions.account_files.append(image_files_of_accounts)
