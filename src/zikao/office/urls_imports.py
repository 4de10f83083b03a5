"""/office/imports/: the marking centres' score files — upload, check, commit, failed rows."""

from django.urls import path

from zikao.office import views_imports as v

urlpatterns = [
    path("", v.imports_list, name="imports_list"),
    path("<int:pk>/", v.imports_detail, name="imports_detail"),
    path("<int:pk>/progress/", v.imports_progress, name="imports_progress"),
    path("<int:pk>/run/", v.imports_run, name="imports_run"),
    path("<int:pk>/failed-rows/", v.imports_failed_rows, name="imports_failed_rows"),
]
