from django.apps import AppConfig


class GraduationConfig(AppConfig):
    name = "zikao.graduation"
    label = "graduation"
    verbose_name = "毕业"
