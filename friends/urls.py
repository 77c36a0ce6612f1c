from django.urls import path

from friends import views

urlpatterns = [
    path("set_friend", views.set_friend, name="set_friend"),
    path("rm_friend", views.rm_friend, name="rm_friend"),
    path("get_friends", views.get_friends, name="get_friends"),
    path("is_friend", views.is_friend, name="is_friend"),
    path("get_followers", views.get_followers, name="get_followers"),
    path("get_blocks", views.get_blocks, name="get_blocks"),
    path("block", views.block, name="block"),
    path("unblock", views.unblock, name="unblock"),
    path("get_data", views.get_data, name="get_data"),
    path("recommend", views.recommend, name="recommend"),
]
