"""zikao: records and self-service for the Higher Education Self-study Examinations (自考)."""

# Load the Celery app with Django so tasks bound with @shared_task use the project's
# configuration (broker, or eager execution when none is set).
from zikao.celery import app as celery_app

__all__ = ["celery_app"]
