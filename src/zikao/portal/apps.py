from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "zikao.portal"
    label = "portal"
    verbose_name = "考生门户"
