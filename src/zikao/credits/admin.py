from django.contrib import admin

from zikao.core.admin import ReadOnlyAdmin
from zikao.credits.models import Exemption, TransferIn, TransferInCourse, TransferOut


@admin.register(Exemption)
class ExemptionAdmin(ReadOnlyAdmin):
    list_display = ("candidate", "basis", "basis_detail", "status", "decided_at")
    list_filter = ("basis", "status")


class TransferInCourseInline(admin.TabularInline):
    model = TransferInCourse
    extra = 0


@admin.register(TransferIn)
class TransferInAdmin(ReadOnlyAdmin):
    list_display = ("candidate", "from_province", "arrived_on")
    inlines = [TransferInCourseInline]


@admin.register(TransferOut)
class TransferOutAdmin(ReadOnlyAdmin):
    list_display = ("candidate", "to_province", "status", "completed_at")
