"""The record pages of the portal (scores, passed courses, record, progress).

No id in any URL: the signed-in candidate is the subject; a sitting is chosen by its label
(`?sitting=YYYYMM`).
"""

from django.urls import path

from zikao.portal import views_records

urlpatterns: list = [
    path("me/", views_records.dashboard, name="dashboard"),
    path("me/scores/", views_records.scores, name="scores"),
    path("me/scores/all/", views_records.scores_all, name="scores_all"),
    path("me/passed/", views_records.passed, name="passed"),
    path("me/record/", views_records.record, name="record"),
    path("me/progress/", views_records.progress, name="progress"),
]
