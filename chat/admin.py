"""Moderation of private messages in the admin: the queue of message reports only. A report's
page shows the reported message with the 20 before and after it, as copied when it was filed;
no page lists messages (API.md: no other private message is shown to staff). Hiding a message
takes it out of every answer at once (services.set_hidden)."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from chat import services
from chat.models import MessageReport

EXCERPT_LENGTH = 40
DELETED_ACCOUNT = "已注销"
DELETED_MESSAGE = "已不存在（会话已随账号删除）"
SPEAKERS = {"sender": "发送人", "reporter": "举报人"}


def excerpt(text):
    return text if len(text) <= EXCERPT_LENGTH else text[:EXCERPT_LENGTH] + "…"


def user_link(user_id, user, missing=DELETED_ACCOUNT):
    if user_id is None:
        return missing
    url = reverse("admin:accounts_user_change", args=[user_id])
    return format_html('<a href="{}">{}</a>', url, user)


@admin.register(MessageReport)
class MessageReportAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "state",
        "reported_excerpt",
        "reason_excerpt",
        "sender_link",
        "reporter_link",
        "created_at",
        "resolved_by",
        "resolved_at",
    )
    list_filter = ("state", "created_at")
    search_fields = ("reason", "reported_text", "reporter__email", "sender__email")
    list_select_related = ("reporter", "sender", "resolved_by")
    # The queue: open reports first ("open" < "resolved"), newest first (messagereport_queue).
    ordering = ("state", "-created_at")
    fields = (
        "reporter_link",
        "sender_link",
        "message_state",
        "reported_text",
        "conversation",
        "reason",
        "state",
        "created_at",
        "resolved_by",
        "resolved_at",
    )
    readonly_fields = fields
    actions = (
        "resolve",
        "hide_message_and_resolve",
        "show_message",
        "deactivate_sender_and_resolve",
    )
    show_full_result_count = False

    def get_queryset(self, request):
        # the change list applies list_select_related only to a queryset without one
        related = (*self.list_select_related, "message")
        return super().get_queryset(request).select_related(*related)

    def has_add_permission(self, request):
        # Reports are made by users through the API (/report).
        return False

    @admin.display(description="举报人", ordering="reporter")
    def reporter_link(self, report):
        return user_link(report.reporter_id, report.reporter)

    @admin.display(description="发送人", ordering="sender")
    def sender_link(self, report):
        return user_link(report.sender_id, report.sender)

    @admin.display(description="私信现状")
    def message_state(self, report):
        message = report.message
        if message is None:
            return DELETED_MESSAGE
        states = []
        if message.is_hidden:
            states.append("已隐藏")
        if message.recalled:
            states.append("已被发送人撤回")
        return f"#{message.pk}：" + ("、".join(states) or "可见")

    @admin.display(description="被举报的内容", ordering="reported_text")
    def reported_excerpt(self, report):
        return excerpt(report.reported_text)

    @admin.display(description="理由", ordering="reason")
    def reason_excerpt(self, report):
        return excerpt(report.reason)

    @admin.display(description="上下文（前后各 20 条，举报时的副本）")
    def conversation(self, report):
        reported_id = report.message_id
        rows = [
            (
                "font-weight:bold;background:#fff3cd" if line.get("id") == reported_id else "",
                line.get("id"),
                line.get("created_at", ""),
                SPEAKERS.get(line.get("from"), ""),
                "（已撤回）" if line.get("recalled") else line.get("msg", ""),
            )
            for line in report.context
        ]
        body = format_html_join(
            "",
            '<tr style="{}"><td>#{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            rows,
        )
        return format_html(
            "<table><tr><th>id</th><th>时间</th><th>谁</th><th>内容</th></tr>{}</table>", body
        )

    @admin.action(description="标记为已处理", permissions=["change"])
    def resolve(self, request, queryset):
        count = services.resolve_reports(queryset, request.user)
        self.message_user(request, f"已处理 {count} 条举报。")

    @admin.action(description="隐藏被举报的私信并标记为已处理", permissions=["change"])
    def hide_message_and_resolve(self, request, queryset):
        if not request.user.has_perm("chat.change_message"):
            self.message_user(request, "没有修改私信的权限。", messages.ERROR)
            return
        hidden, resolved = services.hide_reported_messages(queryset, request.user)
        self.message_user(request, f"已隐藏 {hidden} 条私信，处理 {resolved} 条举报。")

    @admin.action(description="取消隐藏被举报的私信", permissions=["change"])
    def show_message(self, request, queryset):
        if not request.user.has_perm("chat.change_message"):
            self.message_user(request, "没有修改私信的权限。", messages.ERROR)
            return
        shown = services.show_reported_messages(queryset)
        self.message_user(request, f"已取消隐藏 {shown} 条私信。")

    @admin.action(description="封禁被举报私信的发送人并标记为已处理", permissions=["change"])
    def deactivate_sender_and_resolve(self, request, queryset):
        if not request.user.has_perm("accounts.change_user"):
            self.message_user(request, "没有修改用户的权限。", messages.ERROR)
            return
        deactivated, resolved, skipped = services.deactivate_reported_senders(
            queryset, request.user
        )
        self.message_user(
            request, f"已封禁 {deactivated} 个用户（登录令牌已撤销），处理 {resolved} 条举报。"
        )
        if skipped:
            self.message_user(
                request,
                f"跳过了 {skipped} 个你自己或职员的账号，相关举报仍待处理"
                "（只有超级用户能停用职员）。",
                messages.WARNING,
            )
