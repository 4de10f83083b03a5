"""Exam centres, rooms, seat allocation, room lists, tickets and the door check: /office/entries/…"""

from django.urls import path

from zikao.office import views_entries as views
from zikao.office import views_entries_admin as admin_views

urlpatterns = [
    path("centres/", views.entries_centres, name="entries_centres"),
    path("centres/new/", views.entries_centre_create, name="entries_centre_create"),
    path("centres/<int:pk>/", views.entries_centre, name="entries_centre"),
    path("centres/<int:pk>/edit/", views.entries_centre_edit, name="entries_centre_edit"),
    path("rooms/<int:pk>/edit/", views.entries_room_edit, name="entries_room_edit"),
    path("allocation/", views.entries_allocation, name="entries_allocation"),
    path("allocation/<str:label>/", views.entries_allocation_sitting, name="entries_allocation_sitting"),
    path("allocation/<str:label>/run/", views.entries_allocation_run, name="entries_allocation_run"),
    path(
        "allocation/<str:label>/centres/<int:pk>/rooms.pdf",
        views.entries_room_list_pdf,
        name="entries_room_list_pdf",
    ),
    path("runs/<int:pk>/", views.entries_allocation_report, name="entries_allocation_report"),
    path("tickets/", views.entries_tickets, name="entries_tickets"),
    path("tickets/<int:pk>/revoke/", views.entries_ticket_revoke, name="entries_ticket_revoke"),
    path("tickets/<int:pk>/reissue/", views.entries_ticket_reissue, name="entries_ticket_reissue"),
    path("check/", views.entries_check_form, name="entries_check_form"),
    path("check/<str:code>/", views.entries_check, name="entries_check"),
    # entry window administration (views_entries_admin)
    path("setup/", admin_views.entries_setup, name="entries_setup"),
    path("setup/policy/", admin_views.entries_policy, name="entries_policy"),
    path("setup/<str:label>/", admin_views.entries_sitting_settings, name="entries_sitting_settings"),
    path("capacity/<str:label>/", admin_views.entries_capacity, name="entries_capacity"),
    path("capacity/<str:label>/set/", admin_views.entries_capacity_set, name="entries_capacity_set"),
    path(
        "capacity/<str:label>/rebuild/", admin_views.entries_capacity_rebuild, name="entries_capacity_rebuild"
    ),
    path(
        "capacity/<str:label>/export/csv/",
        admin_views.entries_capacity_export,
        {"fmt": "csv"},
        name="entries_capacity_export_csv",
    ),
    path(
        "capacity/<str:label>/export/xlsx/",
        admin_views.entries_capacity_export,
        {"fmt": "xlsx"},
        name="entries_capacity_export_xlsx",
    ),
    path("list/<str:label>/", admin_views.entries_list, name="entries_list"),
    path(
        "list/<str:label>/export/csv/",
        admin_views.entries_list_export,
        {"fmt": "csv"},
        name="entries_list_export_csv",
    ),
    path(
        "list/<str:label>/export/xlsx/",
        admin_views.entries_list_export,
        {"fmt": "xlsx"},
        name="entries_list_export_xlsx",
    ),
    path("payments/<str:label>/", admin_views.entries_payments, name="entries_payments"),
    path(
        "payments/<str:label>/export/csv/",
        admin_views.entries_payments_export,
        {"fmt": "csv"},
        name="entries_payments_export_csv",
    ),
    path(
        "payments/<str:label>/export/xlsx/",
        admin_views.entries_payments_export,
        {"fmt": "xlsx"},
        name="entries_payments_export_xlsx",
    ),
    path("orders/<str:order_no>/", admin_views.entries_payment_order, name="entries_payment_order"),
]
