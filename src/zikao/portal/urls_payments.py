"""Paying the entry fee (缴费): the candidate's pages under /me/payments/, and the provider side
under /pay/ (the simulated provider's cashier and the notify endpoint). The only id in a URL is
an order number; one that is not the candidate's is a 404 like a missing one."""

from django.urls import path

from zikao.portal import views_payments

urlpatterns: list = [
    path("me/payments/", views_payments.payments_index, name="payments"),
    path("me/payments/pay/", views_payments.payments_pay, name="payments_pay"),
    path("me/payments/<str:order_no>/", views_payments.payments_order, name="payments_order"),
    path("me/payments/<str:order_no>/checkout/", views_payments.payments_checkout, name="payments_checkout"),
    path("me/payments/<str:order_no>/return/", views_payments.payments_return, name="payments_return"),
    path("pay/sim/<str:order_no>/", views_payments.payments_sim_cashier, name="payments_sim_cashier"),
    path("pay/notify/<str:provider>/", views_payments.payments_notify, name="payments_notify"),
]
