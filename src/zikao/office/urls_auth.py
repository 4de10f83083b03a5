from django.urls import path

from zikao.office import views_auth

urlpatterns = [
    path("login/", views_auth.login, name="login"),
    path("logout/", views_auth.logout, name="logout"),
]
