"""Violations (考试违规): /office/conduct/…"""

from django.urls import path

from zikao.office import views_conduct as views

urlpatterns = [
    path("", views.conduct_list, name="conduct_list"),
    path("new/", views.conduct_record, name="conduct_record"),
    path("<int:pk>/", views.conduct_detail, name="conduct_detail"),
    path("<int:pk>/apply/", views.conduct_apply, name="conduct_apply"),
    path("<int:pk>/appeal/", views.conduct_appeal_lodge, name="conduct_appeal_lodge"),
    path("<int:pk>/appeal/decide/", views.conduct_appeal_decide, name="conduct_appeal_decide"),
    path("<int:pk>/revoke/", views.conduct_revoke, name="conduct_revoke"),
]
