"""Registration confirmation under /office/registrations/ (names prefixed `registration_`)."""

from django.urls import path

from zikao.office import views_registration

urlpatterns = [
    path("", views_registration.queue, name="registration_queue"),
    path("<str:pk>/", views_registration.detail, name="registration_detail"),
    path("<str:pk>/files/<str:kind>/", views_registration.document, name="registration_document"),
    path("<str:pk>/confirm/", views_registration.confirm, name="registration_confirm"),
    path("<str:pk>/reject/", views_registration.reject, name="registration_reject"),
]
