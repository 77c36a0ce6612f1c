"""Moderation in the admin: posts (with their comments and likes), comments and the report queue.
Every change list selects its related rows and annotates its counts, so it runs a fixed number of
queries per page."""

from datetime import datetime, timezone

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from feed import services
from feed.models import Comment, Like, Post, Report

EXCERPT_LENGTH = 40
THUMBNAIL_SIZE = 128
INLINE_COMMENTS = 50
LISTED_LIKERS = 50
# A report outlives its reporter and its target (feed.models.Report): the queue says so.
DELETED_ACCOUNT = "已注销"
DELETED_TARGET = "已不存在（动态已删除或用户已注销）"
# Client timestamps above this are taken as milliseconds (it is the year 5138 in seconds).
MILLISECONDS_FROM = 10**11


def excerpt(text):
    return text if len(text) <= EXCERPT_LENGTH else text[:EXCERPT_LENGTH] + "…"


def client_time_as_date(timestamp):
    """A client timestamp (seconds or milliseconds since 1970) as a UTC date and time."""
    seconds = timestamp / 1000 if abs(timestamp) >= MILLISECONDS_FROM else timestamp
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return str(timestamp)


class HideActionsMixin:
    @admin.action(description="隐藏所选项目", permissions=["change"])
    def hide(self, request, queryset):
        count = services.set_hidden(queryset, hidden=True)
        self.message_user(request, f"已隐藏 {count} 项。")

    @admin.action(description="取消隐藏所选项目", permissions=["change"])
    def unhide(self, request, queryset):
        count = services.set_hidden(queryset, hidden=False)
        self.message_user(request, f"已取消隐藏 {count} 项。")


class LatestCommentsFormSet(BaseInlineFormSet):
    """Only the post's latest comments: with all of a busy post's comments the page would be too
    big to read and its form too big to send (DATA_UPLOAD_MAX_NUMBER_FIELDS)."""

    def get_queryset(self):
        if not hasattr(self, "_latest"):
            comments = super().get_queryset()
            latest = comments.order_by("-created_at", "-id").values("pk")[:INLINE_COMMENTS]
            self._latest = comments.filter(pk__in=latest)
        return self._latest


class CommentInline(admin.TabularInline):
    model = Comment
    formset = LatestCommentsFormSet
    verbose_name_plural = f"最新的 {INLINE_COMMENTS} 条评论"
    extra = 0
    fields = ("author", "text", "created_at", "is_hidden")
    readonly_fields = ("author", "text", "created_at")
    ordering = ("created_at", "id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Post)
class PostAdmin(HideActionsMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "author",
        "message_excerpt",
        "client_time",
        "is_hidden",
        "comment_count",
        "like_count",
        "created_at",
    )
    list_display_links = ("id", "message_excerpt")
    list_filter = ("is_hidden", "created_at")
    search_fields = ("msg", "author__email")
    list_select_related = ("author",)
    ordering = ("-created_at", "-id")
    fields = (
        "author",
        "msg",
        "image_thumbnails",
        "time",
        "client_time",
        "created_at",
        "all_comments",
        "likers",
        "is_hidden",
    )
    # Likes are the users' own, made and taken back through the API: staff only see them.
    readonly_fields = (
        "author",
        "msg",
        "image_thumbnails",
        "time",
        "client_time",
        "created_at",
        "all_comments",
        "likers",
    )
    inlines = (CommentInline,)
    actions = ("hide", "unhide", "delete_selected")
    show_full_result_count = False

    def get_queryset(self, request):
        # the likes in a subquery: a second Count over a join would multiply the two
        likes = Like.objects.filter(post=OuterRef("pk")).order_by().values("post")
        like_total = Subquery(likes.annotate(total=Count("*")).values("total"))
        return (
            super()
            .get_queryset(request)
            .annotate(comment_total=Count("comments"), like_total=Coalesce(like_total, 0))
        )

    def has_add_permission(self, request):
        # Posts are written by their authors through the API.
        return False

    @admin.display(description="内容", ordering="msg")
    def message_excerpt(self, post):
        return excerpt(post.msg)

    @admin.display(description="客户端时间", ordering="time")
    def client_time(self, post):
        return client_time_as_date(post.time)

    @admin.display(description="评论数", ordering="comment_total")
    def comment_count(self, post):
        return post.comment_total

    @admin.display(description="点赞数", ordering="like_total")
    def like_count(self, post):
        return post.like_total

    @admin.display(description="点赞")
    def likers(self, post):
        """The count, and who liked it last (at most LISTED_LIKERS, newest first)."""
        if not post.like_total:
            return "0 个"
        latest = post.likes.select_related("user").order_by("-created_at", "-id")[:LISTED_LIKERS]
        links = format_html_join(
            "、",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:accounts_user_change", args=[like.user_id]), like.user)
                for like in latest
            ),
        )
        more = f"（最新的 {LISTED_LIKERS} 位）" if post.like_total > LISTED_LIKERS else ""
        return format_html("{} 个{}：{}", post.like_total, more, links)

    @admin.display(description="图片")
    def image_thumbnails(self, post):
        # Thumbnails, as the user page shows avatars (accounts.admin), each linking to its file.
        shown = post.images.order_by("position").only("file")
        if not shown:
            return "—"
        # One URL an image: on object storage each call signs anew.
        urls = [image.file.url for image in shown]
        return format_html_join(
            " ",
            '<a href="{}"><img src="{}" alt="" width="{}" height="{}" style="object-fit: contain">'
            "</a>",
            ((url, url, THUMBNAIL_SIZE, THUMBNAIL_SIZE) for url in urls),
        )

    def delete_model(self, request, obj):
        services.delete_posts(Post.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        # Through the service: the image files go once the deletion has committed.
        services.delete_posts(queryset)

    @admin.display(description="全部评论")
    def all_comments(self, post):
        url = reverse("admin:feed_comment_changelist") + f"?post__id__exact={post.pk}"
        return format_html('<a href="{}">{} 条</a>', url, post.comment_total)


@admin.register(Comment)
class CommentAdmin(HideActionsMixin, admin.ModelAdmin):
    list_display = ("id", "author", "comment_excerpt", "post_link", "is_hidden", "created_at")
    list_display_links = ("id", "comment_excerpt")
    list_filter = ("is_hidden", "created_at")
    search_fields = ("text", "author__email")
    list_select_related = ("author", "post")
    ordering = ("-created_at", "-id")
    fields = ("post", "author", "text", "created_at", "is_hidden")
    readonly_fields = ("post", "author", "text", "created_at")
    actions = ("hide", "unhide")
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    @admin.display(description="评论", ordering="text")
    def comment_excerpt(self, comment):
        return excerpt(comment.text)

    @admin.display(description="动态", ordering="post")
    def post_link(self, comment):
        url = reverse("admin:feed_post_change", args=[comment.post_id])
        return format_html(
            '<a href="{}">#{} {}</a>', url, comment.post_id, excerpt(comment.post.msg)
        )


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "state",
        "target",
        "reported_excerpt",
        "reason_excerpt",
        "reporter_link",
        "created_at",
        "resolved_by",
        "resolved_at",
    )
    list_filter = ("state", "created_at")
    search_fields = (
        "reason",
        "reported_text",
        "reporter__email",
        "user__email",
        "post__author__email",
    )
    list_select_related = ("reporter", "user", "post__author", "resolved_by")
    # The queue: open reports first ("open" < "resolved"), newest first (index report_queue).
    ordering = ("state", "-created_at")
    fields = (
        "reporter_link",
        "target",
        "reported_text",
        "reason",
        "state",
        "created_at",
        "resolved_by",
        "resolved_at",
    )
    readonly_fields = fields
    actions = ("resolve", "hide_post_and_resolve", "deactivate_user_and_resolve")

    def has_add_permission(self, request):
        # Reports are made by users through the API (/report).
        return False

    @admin.display(description="举报人", ordering="reporter")
    def reporter_link(self, report):
        if report.reporter_id is None:
            return DELETED_ACCOUNT
        url = reverse("admin:accounts_user_change", args=[report.reporter_id])
        return format_html('<a href="{}">{}</a>', url, report.reporter)

    @admin.display(description="举报对象")
    def target(self, report):
        if report.post_id is not None:
            url = reverse("admin:feed_post_change", args=[report.post_id])
            return format_html(
                '<a href="{}">动态 #{}（{}）</a>', url, report.post_id, report.post.author
            )
        if report.user_id is not None:
            url = reverse("admin:accounts_user_change", args=[report.user_id])
            return format_html('<a href="{}">用户 {}</a>', url, report.user)
        # Deleted since (SET_NULL): what was reported is the copy, and nothing else of its author.
        return DELETED_TARGET

    @admin.display(description="被举报的内容", ordering="reported_text")
    def reported_excerpt(self, report):
        return excerpt(report.reported_text)

    @admin.display(description="理由", ordering="reason")
    def reason_excerpt(self, report):
        return excerpt(report.reason)

    @admin.action(description="标记为已处理", permissions=["change"])
    def resolve(self, request, queryset):
        count = services.resolve_reports(queryset, request.user)
        self.message_user(request, f"已处理 {count} 条举报。")

    @admin.action(description="隐藏被举报的动态并标记为已处理", permissions=["change"])
    def hide_post_and_resolve(self, request, queryset):
        if not request.user.has_perm("feed.change_post"):
            self.message_user(request, "没有修改动态的权限。", messages.ERROR)
            return
        hidden, resolved = services.hide_reported_posts(queryset, request.user)
        self.message_user(request, f"已隐藏 {hidden} 条动态，处理 {resolved} 条举报。")

    @admin.action(
        description="封禁被举报的用户（或动态作者）并标记为已处理", permissions=["change"]
    )
    def deactivate_user_and_resolve(self, request, queryset):
        if not request.user.has_perm("accounts.change_user"):
            self.message_user(request, "没有修改用户的权限。", messages.ERROR)
            return
        deactivated, resolved, skipped = services.deactivate_reported_users(queryset, request.user)
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
