from django.urls import path

from notices import views

urlpatterns = [
    path("get_notices", views.get_notices, name="get_notices"),
    path("read_notices", views.read_notices, name="read_notices"),
    path("get_badges", views.get_badges, name="get_badges"),
]
