from django.apps import AppConfig


class EntriesConfig(AppConfig):
    name = "zikao.entries"
    label = "entries"
    verbose_name = "报考"
