from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "私信"

    def ready(self):
        from accounts import extensions
        from chat import queries, services

        # /report's `message` (API.md): feed's view, which may not import chat, files it here.
        extensions.report_targets["message"] = extensions.ReportTarget(
            find=queries.received_message, file=services.report_message
        )
