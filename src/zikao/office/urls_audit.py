"""Audit trail viewer under /office/audit/ (names prefixed `audit_`)."""

from django.urls import path

from zikao.office import views_audit

urlpatterns = [
    path("", views_audit.audit_list, name="audit_list"),
    path("<int:pk>/", views_audit.audit_detail, name="audit_detail"),
    path("<int:pk>/unmask/", views_audit.audit_unmask, name="audit_unmask"),
    path("export/csv/", views_audit.audit_export, {"fmt": "csv"}, name="audit_export_csv"),
    path("export/xlsx/", views_audit.audit_export, {"fmt": "xlsx"}, name="audit_export_xlsx"),
]
