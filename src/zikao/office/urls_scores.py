"""/office/scores/: publication, withholding, preview, a candidate's scores, corrections."""

from django.urls import path

from zikao.office import views_scores as v

urlpatterns = [
    path("", v.sittings, name="scores_sittings"),
    path("sittings/<str:label>/", v.sitting, name="scores_sitting"),
    path("sittings/<str:label>/reschedule/", v.sitting_reschedule, name="scores_sitting_reschedule"),
    path(
        "sittings/<str:label>/publish-early/",
        v.sitting_publish_early_view,
        name="scores_sitting_publish_early",
    ),
    path("sittings/<str:label>/withhold/", v.withhold, name="scores_withhold"),
    path("withholdings/<int:pk>/release/", v.withholding_release_view, name="scores_withholding_release"),
    path("preview/", v.preview, name="scores_preview"),
    path("candidates/", v.candidate_lookup, name="scores_candidate_lookup"),
    path("candidates/<str:candidate_no>/", v.candidate_scores, name="scores_candidate"),
    path("results/<int:pk>/", v.score_detail, name="scores_score"),
    path("results/<int:pk>/correct/", v.correction_new, name="scores_correction_new"),
    path("corrections/", v.corrections, name="scores_corrections"),
    path("corrections/<int:pk>/", v.correction_detail, name="scores_correction"),
    path("corrections/<int:pk>/approve/", v.correction_approve_view, name="scores_correction_approve"),
    path("corrections/<int:pk>/reject/", v.correction_reject_view, name="scores_correction_reject"),
    path("corrections/<int:pk>/withdraw/", v.correction_withdraw_view, name="scores_correction_withdraw"),
    path("corrections/<int:pk>/evidence/", v.correction_evidence, name="scores_correction_evidence"),
]
