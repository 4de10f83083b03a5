"""Admission tickets (准考证) of the signed-in candidate; a sitting is chosen by its label."""

from django.urls import path

from zikao.portal import views_tickets

urlpatterns: list = [
    path("me/tickets/", views_tickets.tickets_list, name="tickets"),
    path("me/tickets/<str:label>/ticket.pdf", views_tickets.ticket_pdf, name="ticket_pdf"),
]
