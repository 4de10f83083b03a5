from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "zikao.catalog"
    label = "catalog"
    verbose_name = "专业与课程"
