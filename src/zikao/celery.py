"""Celery app: a real broker when CELERY_BROKER_URL is set, eager (in-process) otherwise."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zikao.settings")
app = Celery("zikao")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
