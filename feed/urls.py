from django.urls import path

from feed import views

urlpatterns = [
    path("putPost", views.put_post, name="put_post"),
    path("getPost", views.get_post, name="get_post"),
    path("delPost", views.del_post, name="del_post"),
    path("get_post_detail", views.get_post_detail, name="get_post_detail"),
    path("like", views.like, name="like"),
    path("unlike", views.unlike, name="unlike"),
    path("delComment", views.del_comment, name="del_comment"),
    path("comment", views.comment, name="comment"),
    path("get_comments", views.get_comments, name="get_comments"),
    path("get_friend_post", views.get_friend_post, name="get_friend_post"),
    path("report", views.report, name="report"),
]
