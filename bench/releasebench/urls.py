"""The product's URLs plus the two bench-only yardsticks under /bench/."""

from django.urls import include, path

from releasebench import views

urlpatterns = [
    path("bench/trivial", views.trivial, name="bench-trivial"),
    path("bench/naive-latest", views.naive_latest, name="bench-naive-latest"),
    path("", include("zikao.urls")),
]
