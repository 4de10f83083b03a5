"""Production settings (zikao.settings, read from the same environment) + the bench URLconf.

Only the URLconf and the template directory differ from a deployment: the real pages and API
run with exactly the settings, middleware, cache and session store a province would use.
"""

from pathlib import Path

from zikao.settings import *  # noqa: F403
from zikao.settings import TEMPLATES

ROOT_URLCONF = "releasebench.urls"
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], Path(__file__).resolve().parent / "templates"]
