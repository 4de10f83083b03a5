"""Candidate portal URLs: sign-in flows (urls_auth) and the record pages (urls_records)."""

from django.urls import include, path

from zikao.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("zikao.portal.urls_auth")),
    path("", include("zikao.portal.urls_records")),
    path("", include("zikao.portal.urls_entries")),
    path("", include("zikao.portal.urls_payments")),
    path("", include("zikao.portal.urls_tickets")),
    path("", include("zikao.portal.urls_registration")),
]
