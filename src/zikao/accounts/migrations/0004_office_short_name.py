"""Office.short_name: the area's own name ("玄武区"), filled from the office names already stored."""

from django.db import migrations, models

# Frozen copy of accounts.models.OFFICE_SUFFIXES / derive_short_name as of this migration.
SUFFIXES = (
    "高等教育自学考试办公室",
    "自学考试委员会办公室",
    "教育招生考试中心",
    "招生考试办公室",
    "教育考试中心",
    "招生考试中心",
    "自学考试办公室",
    "招生办公室",
    "教育考试院",
    "招生考试院",
    "考试院",
    "招生办",
    "考试中心",
    "考办",
)


def _place(name: str, parent_name: str = "") -> str:
    place = name.strip()
    for suffix in SUFFIXES:
        if place.endswith(suffix) and len(place) > len(suffix):
            place = place[: -len(suffix)]
            break
    parent_place = _place(parent_name) if parent_name else ""
    if parent_place and place.startswith(parent_place) and len(place) > len(parent_place):
        place = place[len(parent_place) :]
    return place


def fill_short_names(apps, schema_editor):
    Office = apps.get_model("accounts", "Office")
    offices = list(Office.objects.select_related("parent").filter(short_name=""))
    for office in offices:
        office.short_name = _place(office.name, office.parent.name if office.parent_id else "")
    Office.objects.bulk_update(offices, ["short_name"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_staff_roles_and_lockout"),
    ]

    operations = [
        migrations.AddField(
            model_name="office",
            name="short_name",
            field=models.CharField(blank=True, max_length=32, verbose_name="地区简称"),
        ),
        migrations.RunPython(fill_short_names, migrations.RunPython.noop),
    ]
