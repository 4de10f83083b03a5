"""Sign-in flows of the portal (lookup, login, password change and reset, profile)."""

urlpatterns: list = []
