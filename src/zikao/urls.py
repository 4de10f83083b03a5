"""URL map: portal at /, JSON API at /api/, office at /office/, Django admin at /admin/."""

from django.contrib import admin
from django.urls import include, path

from zikao.api.api import api

urlpatterns = [
    path("admin/", admin.site.urls),  # TOTP-verified technical staff only: accounts.admin.ZikaoAdminSite
    path("i18n/", include("django.conf.urls.i18n")),
    path("captcha/", include("captcha.urls")),
    path("api/", api.urls),
    path("office/", include("zikao.office.urls")),
    path("", include("zikao.portal.urls")),
]
