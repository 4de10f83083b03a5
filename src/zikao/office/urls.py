"""Office back office at /office/. Each area has its own URL module; names share the `office` namespace."""

from django.urls import include, path

from zikao.office import views

app_name = "office"

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("zikao.office.urls_auth")),  # sign-in, second factor, sign-out, staff users
    path("catalog/", include("zikao.office.urls_catalog")),  # courses, plans, sittings, timetable
    path("imports/", include("zikao.office.urls_imports")),  # marking centres' score files
    path("scores/", include("zikao.office.urls_scores")),  # publication, withholding, corrections
    path("conduct/", include("zikao.office.urls_conduct")),  # violations
    path("records/", include("zikao.office.urls_records")),  # candidate records, requests, merge
    path("audit/", include("zikao.office.urls_audit")),  # audit trail viewer and export
    path("reports/", include("zikao.office.urls_reports")),  # per-sitting statistics
    path("entries/", include("zikao.office.urls_entries")),
    path("registrations/", include("zikao.office.urls_registration")),
]
