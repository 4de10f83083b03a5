from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConductConfig(AppConfig):
    name = "zikao.conduct"
    label = "conduct"
    verbose_name = _("考试违规")
