"""Sign-in flows of the portal (lookup, login, password change and reset, profile)."""

from django.urls import path

from zikao.portal import views_auth

urlpatterns = [
    path("lookup/", views_auth.lookup, name="lookup"),
    path("login/", views_auth.login, name="login"),
    path("logout/", views_auth.logout, name="logout"),
    path("password/change/", views_auth.password_change, name="password_change"),
    path("password/forgot/", views_auth.password_reset, name="password_reset"),
    path("password/forgot/code/", views_auth.password_reset_code, name="password_reset_code"),
    path("password/forgot/new/", views_auth.password_reset_new, name="password_reset_new"),
    path("me/profile/", views_auth.profile, name="profile"),
    path("me/profile/phone/", views_auth.phone_change, name="phone_change"),
    path("me/profile/phone/confirm/", views_auth.phone_confirm, name="phone_confirm"),
    path("me/profile/requests/", views_auth.profile_request, name="profile_request"),
]
