from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "zikao.credits"
    label = "credits"
    verbose_name = "免考与转考"
