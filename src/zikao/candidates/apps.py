from django.apps import AppConfig


class CandidatesConfig(AppConfig):
    name = "zikao.candidates"
    label = "candidates"
    verbose_name = "考生考籍"
