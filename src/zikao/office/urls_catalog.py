"""Catalog pages under /office/catalog/ (names: office:catalog_*)."""

from django.urls import path

from zikao.office import views_catalog as views

urlpatterns = [
    path("", views.home, name="catalog_home"),
    path("courses/", views.courses, name="catalog_courses"),
    path("courses/new/", views.course_new, name="catalog_course_new"),
    path("courses/<str:code>/", views.course, name="catalog_course"),
    path("courses/<str:code>/edit/", views.course_edit, name="catalog_course_edit"),
    path("courses/<str:code>/delete/", views.course_delete, name="catalog_course_delete"),
    path("schools/", views.schools, name="catalog_schools"),
    path("schools/new/", views.school_new, name="catalog_school_new"),
    path("schools/<int:pk>/edit/", views.school_edit, name="catalog_school_edit"),
    path("schools/<int:pk>/delete/", views.school_delete, name="catalog_school_delete"),
    path("majors/", views.majors, name="catalog_majors"),
    path("majors/new/", views.major_new, name="catalog_major_new"),
    path("majors/<int:pk>/", views.major, name="catalog_major"),
    path("majors/<int:pk>/edit/", views.major_edit, name="catalog_major_edit"),
    path("majors/<int:pk>/delete/", views.major_delete, name="catalog_major_delete"),
    path("plans/", views.plans, name="catalog_plans"),
    path("plans/upload/", views.plan_upload, name="catalog_plan_upload"),
    path("plans/uploads/<int:pk>/", views.plan_preview, name="catalog_plan_preview"),
    path("plans/uploads/<int:pk>/apply/", views.plan_apply, name="catalog_plan_apply"),
    path("plans/<int:pk>/", views.plan, name="catalog_plan"),
    path("plans/<int:pk>/source/", views.plan_source, name="catalog_plan_source"),
    path("sittings/", views.sittings, name="catalog_sittings"),
    path("sittings/new/", views.sitting_new, name="catalog_sitting_new"),
    path("sittings/<str:label>/", views.sitting, name="catalog_sitting"),
    path("sittings/<str:label>/edit/", views.sitting_edit, name="catalog_sitting_edit"),
    path("sittings/<str:label>/timetable/", views.timetable, name="catalog_timetable"),
    path("sittings/<str:label>/timetable/add/", views.timetable_add, name="catalog_timetable_add"),
    path(
        "sittings/<str:label>/timetable/<int:pk>/edit/",
        views.timetable_entry_edit,
        name="catalog_timetable_entry_edit",
    ),
    path(
        "sittings/<str:label>/timetable/<int:pk>/delete/",
        views.timetable_entry_delete,
        name="catalog_timetable_entry_delete",
    ),
    path("sittings/<str:label>/timetable/import/", views.timetable_import, name="catalog_timetable_import"),
    path(
        "sittings/<str:label>/timetable/imports/<int:pk>/",
        views.timetable_report,
        name="catalog_timetable_report",
    ),
    path(
        "sittings/<str:label>/timetable/imports/<int:pk>/apply/",
        views.timetable_apply,
        name="catalog_timetable_apply",
    ),
]
