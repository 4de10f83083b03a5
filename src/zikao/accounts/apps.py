from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "zikao.accounts"
    label = "accounts"
    verbose_name = _("账户与机构")

    def ready(self) -> None:
        # Connects the signals that invalidate the cached sign-in state (session_cache).
        from zikao.accounts import session_cache  # noqa: F401
