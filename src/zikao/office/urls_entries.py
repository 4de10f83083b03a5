"""Exam centres, rooms, seat allocation, room lists, tickets and the door check: /office/entries/…"""

from django.urls import path

from zikao.office import views_entries as views

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
]
