"""Online registration (新生报名) pages: form, result, status, withdrawal (names prefixed `registration_`)."""

from django.urls import path

from zikao.portal import views_registration

urlpatterns = [
    path("register/", views_registration.register, name="registration_new"),
    path("register/done/", views_registration.done, name="registration_done"),
    path("register/status/", views_registration.status, name="registration_status"),
    path("register/withdraw/", views_registration.withdraw, name="registration_withdraw"),
]
