"""Staff sign-in (password → TOTP, enrolment), sign-out, and staff administration (/office/staff/)."""

from django.urls import path

from zikao.office import views_auth

urlpatterns = [
    path("login/", views_auth.login, name="login"),
    path("login/code/", views_auth.totp, name="auth_totp"),
    path("login/enrol/", views_auth.enrol, name="auth_enrol"),
    path("logout/", views_auth.logout, name="logout"),
    path("staff/", views_auth.staff_list_view, name="auth_staff_list"),
    path("staff/new/", views_auth.staff_create_view, name="auth_staff_create"),
    path("staff/<int:pk>/", views_auth.staff_detail_view, name="auth_staff_detail"),
    path("staff/<int:pk>/roles/", views_auth.staff_roles_view, name="auth_staff_roles"),
    path("staff/<int:pk>/unlock/", views_auth.staff_unlock_view, name="auth_staff_unlock"),
    path("staff/<int:pk>/totp-reset/", views_auth.staff_totp_reset_view, name="auth_staff_totp_reset"),
    path("staff/<int:pk>/deactivate/", views_auth.staff_deactivate_view, name="auth_staff_deactivate"),
    path("staff/<int:pk>/reactivate/", views_auth.staff_reactivate_view, name="auth_staff_reactivate"),
    path("staff/<int:pk>/password/", views_auth.staff_password_view, name="auth_staff_password"),
]
