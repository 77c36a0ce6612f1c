from django.apps import AppConfig


class FeedConfig(AppConfig):
    name = "feed"
    verbose_name = "动态"

    def ready(self):
        from accounts import extensions
        from feed.queries import visible_post_count
        from feed.services import image_files_of_accounts

        extensions.owner_counts["post_count"] = visible_post_count
        extensions.account_files.append(image_files_of_accounts)
