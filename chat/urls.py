from django.urls import path

from chat import views

urlpatterns = [
    path("send_msg", views.send_msg, name="send_msg"),
    path("get_msgs", views.get_msgs, name="get_msgs"),
    path("get_chats", views.get_chats, name="get_chats"),
    path("read_msgs", views.read_msgs, name="read_msgs"),
    path("recall_msg", views.recall_msg, name="recall_msg"),
]
