from django.contrib import admin

from zikao.core.admin import ReadOnlyAdmin
from zikao.graduation.models import Graduation


@admin.register(Graduation)
class GraduationAdmin(ReadOnlyAdmin):
    list_display = ("certificate_no", "candidate", "major", "graduated_on", "revoked_at")
    search_fields = ("=certificate_no", "=candidate__candidate_no")
    exclude = ("verification_code",)
