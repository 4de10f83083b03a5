from django.apps import AppConfig


class OfficeConfig(AppConfig):
    name = "zikao.office"
    label = "office"
    verbose_name = "考办后台"
