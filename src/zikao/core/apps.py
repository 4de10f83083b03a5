from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "zikao.core"
    label = "core"
    verbose_name = "核心"
