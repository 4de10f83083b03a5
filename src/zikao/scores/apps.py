from django.apps import AppConfig


class ScoresConfig(AppConfig):
    name = "zikao.scores"
    label = "scores"
    verbose_name = "成绩"
