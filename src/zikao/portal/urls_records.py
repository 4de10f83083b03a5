"""The record pages of the portal (scores, passed courses, record, progress)."""

urlpatterns: list = []
