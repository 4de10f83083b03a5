from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "zikao.api"
    label = "api"
    verbose_name = "API"
