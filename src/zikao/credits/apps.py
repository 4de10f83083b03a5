from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CreditsConfig(AppConfig):
    name = "zikao.credits"
    label = "credits"
    verbose_name = _("免考与转考")
