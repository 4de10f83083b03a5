from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EntriesConfig(AppConfig):
    name = "zikao.entries"
    label = "entries"
    verbose_name = _("报考")
