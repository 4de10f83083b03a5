from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "zikao.portal"
    label = "portal"
    verbose_name = _("考生门户")
