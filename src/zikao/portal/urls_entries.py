"""The entry pages of the portal (报考). A sitting is chosen by its label (`?sitting=YYYYMM`); the
only id in a URL is an entry's, and one that is not the candidate's is a 404 like a missing one."""

from django.urls import path

from zikao.portal import views_entries

urlpatterns: list = [
    path("me/entries/", views_entries.entries, name="entries"),
    path("me/entries/area/", views_entries.entries_area, name="entries_area"),
    path("me/entries/change/", views_entries.entries_change, name="entries_change"),
    path("me/entries/<str:entry_id>/cancel/", views_entries.entry_cancel, name="entry_cancel"),
]
