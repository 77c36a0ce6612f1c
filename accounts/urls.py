from django.urls import path

from accounts import views

urlpatterns = [
    path("register1", views.register1, name="register1"),
    path("check_email", views.check_email, name="check_email"),
    path("register2", views.register2, name="register2"),
    path("get_yzm", views.get_yzm, name="get_yzm"),
    path("login", views.login, name="login"),
    path("logout", views.logout, name="logout"),
    path("forget1", views.forget1, name="forget1"),
    path("forget2", views.forget2, name="forget2"),
    path("delete_account", views.delete_account, name="delete_account"),
    path("reset", views.reset, name="reset"),
    path("get_info", views.get_info, name="get_info"),
]
