from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from zikao.accounts.models import Office, User


@admin.register(Office)
class OfficeAdmin(admin.ModelAdmin):
    list_display = ("region_code", "name", "level", "exam_code", "parent")
    list_filter = ("level",)
    search_fields = ("name", "region_code")


@admin.register(User)
class StaffAdmin(UserAdmin):
    list_display = ("username", "office", "is_staff", "is_superuser", "is_active")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("考办", {"fields": ("office",)}))
