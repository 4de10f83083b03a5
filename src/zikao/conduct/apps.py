from django.apps import AppConfig


class ConductConfig(AppConfig):
    name = "zikao.conduct"
    label = "conduct"
    verbose_name = "考试违规"
