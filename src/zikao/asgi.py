"""ASGI entry point; production serves WSGI (see docs/decisions), this exists for tooling."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zikao.settings")
application = get_asgi_application()
