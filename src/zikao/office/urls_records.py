"""Record administration under /office/records/ (names prefixed `records_`)."""

from django.urls import path

from zikao.office import views_records

urlpatterns = [
    path("", views_records.search, name="records_search"),
    path("requests/", views_records.requests_list, name="records_requests"),
    path("requests/<str:pk>/", views_records.request_detail, name="records_request_detail"),
    path("requests/<str:pk>/approve/", views_records.request_approve, name="records_request_approve"),
    path("requests/<str:pk>/reject/", views_records.request_reject, name="records_request_reject"),
    path("requests/<str:pk>/reveal-id/", views_records.request_reveal_id, name="records_request_reveal_id"),
    path("merge/", views_records.merge, name="records_merge"),
    # Any text after records/ reaches the view, so a malformed number gets the same office
    # not-found page as a missing or out-of-scope one.
    path("<str:candidate_no>/", views_records.record, name="records_detail"),
    path("<str:candidate_no>/reveal-id/", views_records.reveal_id, name="records_reveal_id"),
    path("<str:candidate_no>/password-reset/", views_records.password_reset, name="records_password_reset"),
    path("<str:candidate_no>/photo/", views_records.photo, name="records_photo"),
]
