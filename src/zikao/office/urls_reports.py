"""Per-sitting reports under /office/reports/ (names prefixed `reports_`)."""

from django.urls import path

from zikao.office import views_reports

urlpatterns = [
    path("", views_reports.reports_index, name="reports_index"),
    path("<str:label>/", views_reports.reports_sitting, name="reports_sitting"),
    path("<str:label>/export/", views_reports.reports_export, name="reports_export"),
]
