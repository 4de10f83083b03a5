"""Production settings (zikao.settings, read from the same environment) + the bench URLconf.

Only the URLconf differs from a deployment: the real API runs with exactly the settings,
middleware, cache and rate limits a province would use.
"""

from zikao.settings import *  # noqa: F403

ROOT_URLCONF = "entrybench.urls"
