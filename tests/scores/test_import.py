"""Score import (scores.importers): upload, check (dry run), commit, policy, malformed files.

Everything runs through the real services on the test database (SQLite, and PostgreSQL when
DATABASE_URL points at one: COPY, the set-based check and the sliced insert). Every refusal
asserts that nothing was written.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.factories import (
    SHANGHAI,
    CandidateFactory,
    CityFactory,
    CountyFactory,
    CourseFactory,
    EntryFactory,
    ProvinceFactory,
    SittingFactory,
    StaffFactory,
)
from zikao.accounts.models import StaffRole
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.catalog.models import Slot, TimetableEntry
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError
from zikao.core.models import AuditEvent
from zikao.entries.models import Entry
from zikao.scores.import_files import FileRejected, media_path
from zikao.scores.importers import score_import_execute, score_import_request, score_import_upload
from zikao.scores.models import Score, ScoreImport

pytestmark = pytest.mark.django_db
RELEASE = dt.datetime(2026, 11, 28, 15, 0, tzinfo=SHANGHAI)
BEFORE = RELEASE - dt.timedelta(days=3)
AFTER = RELEASE + dt.timedelta(days=1)
HEADER = ["准考证号", "课程代码", "考次", "成绩", "状态"]
A, B, C = "010224100001", "010224100002", "010224100003"
THEORY, PRACTICE, NOT_OFFERED = "02324", "13014", "00015"


@dataclass
class World:
    sitting: object
    user: object
    actor: Actor
    a: object
    b: object
    c: object
    entries: dict


def build_world() -> World:
    """Sitting 202610 offering 02324 (theory) and 13014 (practice); 00015 exists, not offered.

    A entered both, B entered the theory course (its practice entry is cancelled), C entered
    nothing. The staff user is a provincial score manager.
    """
    province = ProvinceFactory()
    city = CityFactory(parent=province)
    county = CountyFactory(parent=city)
    sitting = SittingFactory(label="202610", first_day=dt.date(2026, 10, 24), release_at=RELEASE)
    slot = Slot.objects.create(
        sitting=sitting,
        code="SAT_AM",
        starts_at=dt.datetime(2026, 10, 24, 9, 0, tzinfo=SHANGHAI),
        ends_at=dt.datetime(2026, 10, 24, 11, 30, tzinfo=SHANGHAI),
    )
    theory = CourseFactory(code=THEORY, kind="theory")
    practice = CourseFactory(code=PRACTICE, kind="practice")
    CourseFactory(code=NOT_OFFERED, kind="theory")
    for course in (theory, practice):
        TimetableEntry.objects.create(sitting=sitting, slot=slot, course=course)
    a = CandidateFactory(candidate_no=A, county_office=county)
    b = CandidateFactory(candidate_no=B, county_office=county)
    c = CandidateFactory(candidate_no=C, county_office=county)
    entries = {
        (A, THEORY): EntryFactory(candidate=a, sitting=sitting, course=theory),
        (A, PRACTICE): EntryFactory(candidate=a, sitting=sitting, course=practice),
        (B, THEORY): EntryFactory(candidate=b, sitting=sitting, course=theory),
    }
    EntryFactory(candidate=b, sitting=sitting, course=practice, status=Entry.Status.CANCELLED)
    user = StaffFactory(office=province)
    StaffRole.objects.create(user=user, role=Role.SCORE_MANAGER, granted_at=clock.now())
    return World(sitting, user, Actor.staff(user), a, b, c, entries)


def csv_bytes(rows, header=HEADER, *, bom=False, newline="\n", encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    data = out.getvalue().encode(encoding)
    return codecs.BOM_UTF8 + data if bom else data


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ZIKAO_SCORE_IMPORT_RUNNER = "inline"


@pytest.fixture
def world():
    return build_world()


@pytest.fixture(autouse=True)
def _before_release():
    with clock.frozen_at(BEFORE):
        yield


def upload(world, data: bytes, name="scores.csv", actor=None):
    return score_import_upload(
        actor=actor or world.actor, sitting=world.sitting, chunks=[data], original_name=name
    )


def run(world, imp, kind, actor=None, **kw):
    return score_import_execute(actor=actor or world.actor, import_id=imp.pk, run=kind, **kw)


def failed_csv(imp) -> list[list[str]]:
    raw = media_path(imp.failed_rows_name).read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(raw[3:].decode("utf-8"))))


def scores():
    rows = Score.objects.select_related("candidate", "course").order_by(
        "candidate__candidate_no", "course__code", "id"
    )
    return [(s.candidate.candidate_no, s.course.code, s.value, s.grade, s.status, s.is_current) for s in rows]


# --- the report of a dry run ------------------------------------------------------------------------

EVERY_REASON = [
    [A, THEORY, "202610", "85", "有效"],  # 2 valid: new
    [A, PRACTICE, "202610", "良好", ""],  # 3 valid: graded practice, empty status = valid
    ["01022410001", THEORY, "202610", "70", "有效"],  # 4 11 digits
    [B, "2324", "202610", "70", "有效"],  # 5 course code of 4 digits
    [B, THEORY, "202604", "70", "有效"],  # 6 another sitting
    [B, THEORY, "202610", "70", "作弊"],  # 7 unknown status
    [B, THEORY, "202610", "八十", "有效"],  # 8 not a number nor a grade
    [B, THEORY, "202610", "101", "有效"],  # 9
    [B, THEORY, "202610", "-1", "有效"],  # 10
    [B, THEORY, "202610", "60", "缺考"],  # 11 absent with a value
    [B, THEORY, "202610", "", "有效"],  # 12 valid without a value
    ["990124100001", THEORY, "202610", "70", "有效"],  # 13 city 99 is not ours: another province
    ["010299999999", THEORY, "202610", "70", "有效"],  # 14 our city, no such number
    [B, "99999", "202610", "70", "有效"],  # 15 no such course
    [B, NOT_OFFERED, "202610", "70", "有效"],  # 16 course not in this sitting
    [B, THEORY, "202610", "优秀", "有效"],  # 17 a grade for a theory course
    [B, PRACTICE, "202610", "合格", "有效"],  # 18 entry cancelled: not entered
    [C, THEORY, "202610", "70", "有效"],  # 19 never entered
]
EXPECTED_CODES = {
    4: "CANDIDATE_NO_INVALID",
    5: "COURSE_CODE_INVALID",
    6: "SITTING_MISMATCH",
    7: "STATUS_INVALID",
    8: "SCORE_INVALID",
    9: "SCORE_OUT_OF_RANGE",
    10: "SCORE_OUT_OF_RANGE",
    11: "SCORE_ABSENT_HAS_VALUE",
    12: "SCORE_MISSING",
    13: "CANDIDATE_NOT_LOCAL",
    14: "CANDIDATE_UNKNOWN",
    15: "COURSE_UNKNOWN",
    16: "COURSE_NOT_IN_SITTING",
    17: "SCORE_GRADE_INVALID",
    18: "SCORE_NOT_ENTERED",
    19: "SCORE_NOT_ENTERED",
}


def test_dry_run_reports_every_row_and_writes_nothing(world):
    imp, created = upload(world, csv_bytes(EVERY_REASON, bom=True))
    assert created and imp.state == ScoreImport.State.UPLOADED
    done = run(world, imp, "check")
    assert done.state == ScoreImport.State.CHECKED
    assert (done.rows_total, done.rows_valid, done.rows_failed, done.rows_new) == (18, 2, 16, 2)
    assert (done.rows_unchanged, done.rows_replaced) == (0, 0)
    assert not Score.objects.exists()
    rows = failed_csv(done)
    assert rows[0] == [*HEADER, "行号", "错误代码", "错误说明"]
    assert {int(r[5]): r[6] for r in rows[1:]} == EXPECTED_CODES
    by_line = {int(r[5]): r for r in rows[1:]}
    assert by_line[9][:5] == [B, THEORY, "202610", "101", "有效"]  # the original row, as in the file
    assert by_line[9][7] == "分数应在0到100之间。"
    assert by_line[6][7] == "考次与本次导入的考次（202610）不一致。"
    assert done.error_counts == {
        "CANDIDATE_NO_INVALID": 1,
        "COURSE_CODE_INVALID": 1,
        "SITTING_MISMATCH": 1,
        "STATUS_INVALID": 1,
        "SCORE_INVALID": 1,
        "SCORE_OUT_OF_RANGE": 2,
        "SCORE_ABSENT_HAS_VALUE": 1,
        "SCORE_MISSING": 1,
        "CANDIDATE_NOT_LOCAL": 1,
        "CANDIDATE_UNKNOWN": 1,
        "COURSE_UNKNOWN": 1,
        "COURSE_NOT_IN_SITTING": 1,
        "SCORE_GRADE_INVALID": 1,
        "SCORE_NOT_ENTERED": 2,
    }
    assert [e["line"] for e in done.sample_errors] == sorted(EXPECTED_CODES)
    assert done.sample_errors[0] == {
        "line": 4,
        "code": "CANDIDATE_NO_INVALID",
        "message": "准考证号应为12位数字。",
        "fields": ["01022410001", THEORY, "202610", "70", "有效"],
    }


def test_commit_writes_only_valid_rows_in_one_go_and_is_final(world):
    imp, _ = upload(world, csv_bytes(EVERY_REASON))
    done = run(world, imp, "commit")
    assert done.state == ScoreImport.State.COMMITTED
    assert (done.rows_new, done.rows_failed) == (2, 16)
    assert scores() == [(A, THEORY, 85, "", "valid", True), (A, PRACTICE, None, "良好", "valid", True)]
    theory = Score.objects.get(course__code=THEORY)
    assert theory.entry == world.entries[(A, THEORY)]
    assert theory.sitting == world.sitting and theory.method == "exam"
    assert theory.created_by == world.user and theory.created_at == BEFORE
    assert theory.source == f"成绩导入#{imp.pk}"
    assert done.committed_by == world.user and done.committed_at == BEFORE
    event = AuditEvent.objects.get(event_type="scores.imported")
    assert event.subject_id == str(imp.pk) and event.actor_user == world.user
    assert event.after["rows_new"] == 2 and event.after["sha256"] == imp.sha256
    assert len(failed_csv(done)) == 17
    # Committing again, or uploading the same bytes again, changes nothing.
    again = run(world, imp, "commit")
    assert again.state == ScoreImport.State.COMMITTED and again.committed_at == BEFORE
    same, created = upload(world, csv_bytes(EVERY_REASON))
    assert (same.pk, created) == (imp.pk, False)
    assert ScoreImport.objects.count() == 1
    assert len(list(media_path("imports").rglob("*.csv"))) == 2  # the file and its failed rows
    with pytest.raises(DomainError) as exc:
        score_import_request(actor=world.actor, score_import=same, run="commit")
    assert exc.value.code == "IMPORT_ALREADY_COMMITTED"
    assert scores() == [(A, THEORY, 85, "", "valid", True), (A, PRACTICE, None, "良好", "valid", True)]
    assert AuditEvent.objects.filter(event_type="scores.imported").count() == 1


def test_identical_rows_of_another_file_are_unchanged(world):
    run(world, upload(world, csv_bytes([[A, THEORY, "202610", "85", "有效"]]))[0], "commit")
    second, created = upload(
        world, csv_bytes([[A, THEORY, "202610", "85.0", "valid"], [B, THEORY, "202610", "59", ""]])
    )
    assert created
    done = run(world, second, "commit")
    assert (done.rows_new, done.rows_unchanged, done.rows_failed) == (1, 1, 0)
    assert done.failed_rows_name == ""
    assert scores() == [(A, THEORY, 85, "", "valid", True), (B, THEORY, 59, "", "valid", True)]
    assert Score.objects.get(candidate=world.a).source == f"成绩导入#{second.pk - 1}"


def test_a_different_unpublished_score_conflicts_unless_replacing(world):
    first = run(world, upload(world, csv_bytes([[A, THEORY, "202610", "58", "有效"]]))[0], "commit")
    changed = csv_bytes([[A, THEORY, "202610", "61", "有效"]])
    second, _ = upload(world, changed)
    refused = run(world, second, "commit")
    assert refused.state == ScoreImport.State.COMMITTED
    assert (refused.rows_new, refused.rows_failed, refused.error_counts) == (0, 1, {"SCORE_CONFLICT": 1})
    assert scores() == [(A, THEORY, 58, "", "valid", True)]
    # Replacing has to be asked for; the old score stays as history.
    third, _ = upload(
        world, csv_bytes([[A, THEORY, "202610", "61", "有效"], [B, THEORY, "202610", "70", ""]])
    )
    checked = run(world, third, "check", replace_unpublished=True)
    assert (checked.rows_replaced, checked.rows_new, checked.rows_failed) == (1, 1, 0)
    assert scores() == [(A, THEORY, 58, "", "valid", True)]
    done = run(world, third, "commit")
    assert done.replace_unpublished is True
    assert (done.rows_replaced, done.rows_new) == (1, 1)
    assert scores() == [
        (A, THEORY, 58, "", "valid", False),
        (A, THEORY, 61, "", "valid", True),
        (B, THEORY, 70, "", "valid", True),
    ]
    new = Score.objects.get(candidate=world.a, is_current=True)
    assert new.supersedes.value == 58
    assert new.correction_reason == f"发布前由成绩导入#{third.pk}替换"
    assert first.state == ScoreImport.State.COMMITTED


def test_after_publication_a_changed_score_is_refused_but_a_late_new_one_is_added(world):
    run(world, upload(world, csv_bytes([[A, THEORY, "202610", "58", "有效"]]))[0], "commit")
    with clock.frozen_at(AFTER):
        imp, _ = upload(
            world,
            csv_bytes([[A, THEORY, "202610", "61", "有效"], [A, PRACTICE, "202610", "合格", "有效"]]),
        )
        done = run(world, imp, "commit", replace_unpublished=True)
    assert done.error_counts == {"SCORE_PUBLISHED": 1}
    assert done.rows_new == 1
    assert scores() == [(A, THEORY, 58, "", "valid", True), (A, PRACTICE, None, "合格", "valid", True)]
    rows = failed_csv(done)
    assert rows[1][6:] == ["SCORE_PUBLISHED", "本考次成绩已发布，与已有成绩不同：须通过成绩更正修改。"]


def test_duplicates_in_the_file_are_all_refused(world):
    rows = [
        [A, THEORY, "202610", "85", "有效"],
        [B, THEORY, "202610", "70", "有效"],
        [A, THEORY, "202610", "85", "有效"],
        [A, THEORY, "202610", "abc", "有效"],
    ]
    done = run(world, upload(world, csv_bytes(rows))[0], "commit")
    assert (done.rows_new, done.rows_failed) == (1, 3)
    report = {int(r[5]): (r[6], r[7]) for r in failed_csv(done)[1:]}
    message = "同一考生同一课程在文件中出现多次（首次在第2行），均未导入。"
    assert report == {
        2: ("DUPLICATE_IN_FILE", message),
        4: ("DUPLICATE_IN_FILE", message),
        5: ("SCORE_INVALID", "成绩应为0到100的整数，或等级“优秀”“良好”“中等”“合格”“不合格”。"),
    }
    assert scores() == [(B, THEORY, 70, "", "valid", True)]


def test_status_words_grades_and_spaces(world):
    rows = [
        [f" {A} ", f" {THEORY} ", "202610", " 0 ", " 违规 "],
        [A, PRACTICE, "202610", "及格", "VALID"],
        [B, THEORY, "202610", "", "缺考"],
    ]
    done = run(world, upload(world, csv_bytes(rows))[0], "commit")
    assert (done.rows_new, done.rows_failed) == (3, 0)
    assert scores() == [
        (A, THEORY, 0, "", "void", True),
        (A, PRACTICE, None, "合格", "valid", True),
        (B, THEORY, None, "", "absent", True),
    ]


def test_columns_in_any_order_extra_columns_kept_in_the_report_tabs_and_crlf(world):
    header = ["姓名", "成绩", "课程代码", "准考证号", "考次"]
    rows = [["王小明", "88", THEORY, A, "202610"], ["李四", "88", THEORY, C, "202610"]]
    data = csv_bytes(rows, header, newline="\r\n").replace(b",", b"\t")
    done = run(world, upload(world, data)[0], "commit")
    assert (done.rows_new, done.rows_failed) == (1, 1)
    assert failed_csv(done)[1] == [
        "李四",
        "88",
        THEORY,
        C,
        "202610",
        "3",
        "SCORE_NOT_ENTERED",
        "该考生本考次未报考该课程。",
    ]
    assert scores() == [(A, THEORY, 88, "", "valid", True)]


def test_a_row_with_another_column_count_is_reported_and_the_rest_imported(world):
    data = csv_bytes([[A, THEORY, "202610", "85", "有效"]]) + f"{B},{THEORY},202610,70\n{C},x\n".encode()
    done = run(world, upload(world, data)[0], "commit")
    assert (done.rows_new, done.rows_failed) == (1, 2)
    report = {int(r[5]): (r[6], r[7]) for r in failed_csv(done)[1:]}
    assert report == {
        3: ("ROW_FIELD_COUNT", "列数与表头不一致（应为5列，实为4列）。"),
        4: ("ROW_FIELD_COUNT", "列数与表头不一致（应为5列，实为2列）。"),
    }
    assert scores() == [(A, THEORY, 85, "", "valid", True)]


def test_blank_lines_are_skipped_and_counted(world):
    data = csv_bytes([]) + f"\n{A},{THEORY},202610,85,有效\n,,,,\n\n{B},{THEORY},202610,x,有效\n\n\n".encode()
    done = run(world, upload(world, data)[0], "check")
    assert (done.rows_total, done.rows_new, done.rows_failed) == (2, 1, 1)
    assert [e["line"] for e in done.sample_errors] == [6]


def test_xlsx_with_numbers_typed_as_numbers(world):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append([int(A), int(THEORY), 202610, 91, "有效"])  # Excel dropped the leading zeros
    sheet.append([A, PRACTICE, "202610", "优秀", None])
    sheet.append([B, THEORY, 202610, 101.0, "有效"])
    buffer = io.BytesIO()
    book.save(buffer)
    imp, _ = upload(world, buffer.getvalue(), name="成绩.xlsx")
    assert imp.file_format == "xlsx"
    done = run(world, imp, "commit")
    assert (done.rows_new, done.rows_failed, done.error_counts) == (2, 1, {"SCORE_OUT_OF_RANGE": 1})
    assert scores() == [(A, THEORY, 91, "", "valid", True), (A, PRACTICE, None, "优秀", "valid", True)]


# --- files that cannot be read -------------------------------------------------------------------------


def _xls_bytes():
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "IMPORT_FILE_EMPTY"),
        (b"\xef\xbb\xbf\r\n  \n", "IMPORT_FILE_EMPTY"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "IMPORT_FILE_BINARY"),
        (b"%PDF-1.7\n\x00\x01\x02", "IMPORT_FILE_BINARY"),
        (_xls_bytes(), "IMPORT_FILE_XLS"),
        (b"PK\x03\x04not really a zip", "IMPORT_FILE_XLSX_INVALID"),
        (csv_bytes([[A, THEORY, "202610", "85", "有效"]], encoding="gbk"), "IMPORT_FILE_ENCODING"),
        (csv_bytes([[A, THEORY, "202610", "85", "有效"]], encoding="utf-16"), "IMPORT_FILE_ENCODING"),
        (csv_bytes([[A, THEORY, "202610", "85"]], ["准考证号", "课程", "成绩"]), "IMPORT_FILE_HEADER"),
        (csv_bytes([[A, THEORY, "202610", "85"]], ["a", "b", "c", "d"]), "IMPORT_FILE_HEADER"),
        (csv_bytes([], ["准考证号", "课程代码", "考次", "成绩", "分数"]), "IMPORT_FILE_HEADER"),
        (f"{A},{THEORY},202610,85,有效\n".encode(), "IMPORT_FILE_HEADER"),
    ],
)
def test_unreadable_files_are_refused_at_upload_and_nothing_is_kept(world, data, code):
    with pytest.raises(FileRejected) as exc:
        upload(world, data)
    assert exc.value.code == code
    assert not ScoreImport.objects.exists()
    assert not AuditEvent.objects.exists()
    assert [p for p in media_path("imports").rglob("*") if p.is_file()] == []


def test_gbk_is_named_as_such(world):
    with pytest.raises(FileRejected) as exc:
        upload(world, csv_bytes([[A, THEORY, "202610", "85", "有效"]], encoding="gbk"))
    assert exc.value.fields == {"encoding": "gbk"}
    assert "GBK" in str(exc.value.message)


def test_a_header_only_file_fails_when_run(world):
    imp, _ = upload(world, csv_bytes([]))
    done = run(world, imp, "check")
    assert (done.state, done.error_code) == (ScoreImport.State.FAILED, "IMPORT_FILE_NO_ROWS")
    assert done.error_message == "文件只有表头，没有成绩行。"


def test_bad_bytes_deep_in_the_file_fail_the_run_with_their_line(world):
    rows = [[A, THEORY, "202610", "85", "有效"]] * 3000
    data = csv_bytes(rows) + f"{B},{THEORY},202610,70,有效\n".encode("gbk")
    data += f"{B},{THEORY},202610,70,无效\n".encode("gbk")
    imp, _ = upload(world, data)
    done = run(world, imp, "commit")
    assert (done.state, done.error_code) == (ScoreImport.State.FAILED, "IMPORT_FILE_ENCODING")
    assert (
        done.error_message == "第3002行的内容不是UTF-8编码，请将文件另存为“CSV UTF-8（逗号分隔）”后再上传。"
    )
    assert not Score.objects.exists()


def test_the_stored_file_missing_fails_the_run(world):
    imp, _ = upload(world, csv_bytes([[A, THEORY, "202610", "85", "有效"]]))
    media_path(imp.stored_name).unlink()
    done = run(world, imp, "commit")
    assert (done.state, done.error_code) == (ScoreImport.State.FAILED, "IMPORT_FILE_MISSING")
    assert not Score.objects.exists()
    # Uploading the same bytes again restores the kept copy.
    again, created = upload(world, csv_bytes([[A, THEORY, "202610", "85", "有效"]]))
    assert (again.pk, created) == (imp.pk, False)
    assert run(world, again, "commit").rows_new == 1


def test_the_file_is_stored_privately_with_its_checksum(world):
    import hashlib
    import stat

    data = csv_bytes([[A, THEORY, "202610", "85", "有效"]])
    imp, _ = upload(world, data, name="南京评卷中心 张三.csv")
    path = media_path(imp.stored_name)
    assert path.read_bytes() == data
    assert imp.sha256 == hashlib.sha256(data).hexdigest() and imp.size == len(data)
    assert "张三" not in imp.stored_name and imp.stored_name.startswith("imports/")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert imp.original_name == "南京评卷中心 张三.csv" and imp.created_by == world.user
    event = AuditEvent.objects.get(event_type="scores.import_uploaded")
    assert event.after["sha256"] == imp.sha256


# --- all or nothing, permissions --------------------------------------------------------------------


def test_a_failure_during_the_write_leaves_nothing(world, monkeypatch):
    from zikao.scores import import_sql

    original = import_sql.Staging.apply

    def apply_then_fail(self, **kw):
        original(self, **kw)
        raise RuntimeError("disk full")

    monkeypatch.setattr(import_sql.Staging, "apply", apply_then_fail)
    imp, _ = upload(world, csv_bytes([[A, THEORY, "202610", "85", "有效"], [B, THEORY, "202610", "70", ""]]))
    with pytest.raises(RuntimeError):
        run(world, imp, "commit")
    assert not Score.objects.exists()
    imp.refresh_from_db()
    assert (imp.state, imp.error_code) == (ScoreImport.State.FAILED, "IMPORT_INTERNAL_ERROR")
    assert not AuditEvent.objects.filter(event_type="scores.imported").exists()
    monkeypatch.setattr(import_sql.Staging, "apply", original)
    assert run(world, imp, "commit").rows_new == 2
    assert len(scores()) == 2


def test_a_concurrent_score_makes_the_commit_write_nothing(world, monkeypatch):
    from zikao.scores import import_sql

    original = import_sql.Staging.apply

    def someone_else_first(self, **kw):
        Score.objects.create(
            candidate=world.b,
            course=world.entries[(B, THEORY)].course,
            sitting=world.sitting,
            entry=world.entries[(B, THEORY)],
            value=40,
            created_at=clock.now(),
        )
        return original(self, **kw)

    monkeypatch.setattr(import_sql.Staging, "apply", someone_else_first)
    imp, _ = upload(world, csv_bytes([[A, THEORY, "202610", "85", "有效"], [B, THEORY, "202610", "70", ""]]))
    done = run(world, imp, "commit")
    assert (done.state, done.error_code) == (ScoreImport.State.FAILED, "IMPORT_CONCURRENT_CHANGE")
    assert not Score.objects.exists()


@pytest.mark.parametrize(
    ("role", "level"),
    [(Role.READ_ONLY, "province"), (Role.RECORD_CLERK, "province"), (Role.SCORE_MANAGER, "city")],
)
def test_only_provincial_score_managers_import(world, role, level):
    office = world.user.office if level == "province" else world.a.county_office.parent
    user = StaffFactory(office=office)
    StaffRole.objects.create(user=user, role=role, granted_at=clock.now())
    actor = Actor.staff(user)
    with pytest.raises(PermissionDenied):
        upload(world, csv_bytes([[A, THEORY, "202610", "85", "有效"]]), actor=actor)
    assert not ScoreImport.objects.exists()
    imp, _ = upload(world, csv_bytes([[A, THEORY, "202610", "85", "有效"]]))
    for kind in ("check", "commit"):
        with pytest.raises(PermissionDenied):
            run(world, imp, kind, actor=actor)
        with pytest.raises(PermissionDenied):
            score_import_request(actor=actor, score_import=imp, run=kind)
    imp.refresh_from_db()
    assert imp.state == ScoreImport.State.UPLOADED
    assert not Score.objects.exists()
    assert AuditEvent.objects.count() == 1  # the upload by the score manager only


def test_an_unknown_run_kind_is_refused(world):
    imp, _ = upload(world, csv_bytes([[A, THEORY, "202610", "85", "有效"]]))
    with pytest.raises(DomainError) as exc:
        run(world, imp, "delete")
    assert exc.value.code == "IMPORT_RUN_INVALID"


def test_request_runs_in_the_background_runner(world, django_capture_on_commit_callbacks):
    imp, _ = upload(world, csv_bytes([[A, THEORY, "202610", "85", "有效"]]))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queued = score_import_request(actor=world.actor, score_import=imp, run="check")
        assert queued.state == ScoreImport.State.QUEUED
    assert len(callbacks) == 1
    imp.refresh_from_db()  # the inline runner ran it once the request's transaction committed
    assert imp.state == ScoreImport.State.CHECKED and imp.requested_by == world.user
    assert not Score.objects.exists()


# --- the command line --------------------------------------------------------------------------------


def _write(tmp_path: Path, data: bytes, name="scores.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_command_dry_run_then_commit_then_again(world, tmp_path):
    path = _write(tmp_path, csv_bytes([[A, THEORY, "202610", "85", "有效"], [C, THEORY, "202610", "70", ""]]))
    out, err = io.StringIO(), io.StringIO()
    call_command("import_scores", str(path), "--sitting", "202610", "--dry-run", stdout=out, stderr=err)
    text = out.getvalue()
    assert "checked (dry run, nothing written): 2 rows" in text
    assert "SCORE_NOT_ENTERED" in text and "该考生本考次未报考该课程。" in text
    assert "读取文件" in err.getvalue()  # the progress line
    assert not Score.objects.exists()
    copy = tmp_path / "failed.csv"
    out = io.StringIO()
    call_command(
        "import_scores",
        str(path),
        "--sitting",
        "202610",
        "--failed-rows",
        str(copy),
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "committed: 2 rows" in out.getvalue()
    assert f"failed rows: {copy}" in out.getvalue()
    assert copy.read_bytes().startswith(codecs.BOM_UTF8)
    assert scores() == [(A, THEORY, 85, "", "valid", True)]
    reports = [p.name for p in media_path("imports").rglob("*-failed-*.csv")]
    assert len(reports) == 1 and reports[0].endswith("-failed-commit.csv")  # the dry run's is gone
    assert Score.objects.get().created_by is None
    event = AuditEvent.objects.get(event_type="scores.imported")
    assert (event.actor_kind, event.actor_label) == ("system", "import_scores")
    out = io.StringIO()
    call_command("import_scores", str(path), "--sitting", "202610", stdout=out, stderr=io.StringIO())
    assert "nothing changed" in out.getvalue()
    assert ScoreImport.objects.count() == 1 and Score.objects.count() == 1


def test_command_refusals(world, tmp_path):
    with pytest.raises(CommandError, match="sitting 209912 does not exist"):
        call_command("import_scores", str(_write(tmp_path, b"x")), "--sitting", "209912")
    with pytest.raises(CommandError, match="IMPORT_FILE_EMPTY"):
        call_command("import_scores", str(_write(tmp_path, b"")), "--sitting", "202610")
    with pytest.raises(CommandError, match="IMPORT_FILE_ENCODING"):
        gbk = csv_bytes([[A, THEORY, "202610", "85", "有效"]], encoding="gbk")
        call_command("import_scores", str(_write(tmp_path, gbk)), "--sitting", "202610")
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_scores", str(tmp_path / "missing.csv"), "--sitting", "202610")
    with pytest.raises(CommandError, match="PERMISSION_DENIED"):
        reader = StaffFactory(office=world.user.office)
        ok = csv_bytes([[A, THEORY, "202610", "85", "有效"]])
        call_command(
            "import_scores", str(_write(tmp_path, ok)), "--sitting", "202610", "--user", reader.username
        )
    assert not ScoreImport.objects.exists() and not Score.objects.exists()


def test_command_as_a_staff_user(world, tmp_path):
    path = _write(tmp_path, csv_bytes([[A, THEORY, "202610", "85", "有效"]]))
    call_command(
        "import_scores",
        str(path),
        "--sitting",
        "202610",
        "--user",
        world.user.username,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert Score.objects.get().created_by == world.user


# --- the checks agree with the domain rules ------------------------------------------------------------


def test_every_result_and_status_is_judged_like_validate_result(world):
    """The set-based check accepts exactly what `rules.validate_result` accepts."""
    from zikao.core.errors import ValidationFailed
    from zikao.scores import rules

    results = ["", "0", "59", "60", "100", "101", "-1", "85.0", "1e2", "优秀", "及格", "不及格", "x"]
    statuses = ["", "有效", "缺考", "违规", "absent", "void"]
    status_code = {
        "": "valid",
        "有效": "valid",
        "缺考": "absent",
        "违规": "void",
        "absent": "absent",
        "void": "void",
    }
    grades = {"优秀": "优秀", "及格": "合格", "不及格": "不合格"}
    rows, expected = [], {}
    line = 1
    for course, kind in ((THEORY, "theory"), (PRACTICE, "practice")):
        for result in results:
            for status in statuses:
                line += 1
                # unique keys: the duplicate rule is tested elsewhere
                number = f"0102{line:08d}"
                rows.append([number, course, "202610", result, status])
                grade = grades.get(result, "")
                value = None
                if not grade and result:
                    try:
                        value = int(float(result)) if result.replace(".0", "").lstrip("-").isdigit() else None
                    except ValueError:
                        value = None
                if result and not grade and value is None:
                    expected[line] = "SCORE_INVALID"
                    continue
                try:
                    rules.validate_result(
                        course_kind=kind, value=value, grade=grade, status=status_code[status]
                    )
                except ValidationFailed as exc:
                    expected[line] = exc.code
                else:
                    expected[line] = "CANDIDATE_UNKNOWN"  # valid result: the next check refuses the number
    done = run(world, upload(world, csv_bytes(rows))[0], "check")
    got = {int(r[5]): r[6] for r in failed_csv(done)[1:]}
    assert got == expected
    assert done.rows_total == len(rows)


def test_with_a_broker_the_run_is_a_celery_task(
    world, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from zikao.scores import tasks

    sent = []
    monkeypatch.setattr(tasks.run_score_import, "delay", lambda *args: sent.append(args))
    settings.ZIKAO_SCORE_IMPORT_RUNNER = ""
    settings.CELERY_BROKER_URL = "amqp://broker.invalid//"
    imp, _ = upload(world, csv_bytes([[A, THEORY, "202610", "85", "有效"]]))
    with django_capture_on_commit_callbacks(execute=True):
        score_import_request(actor=world.actor, score_import=imp, run="commit")
    assert sent == [(imp.pk, "commit", world.user.pk, None)]
    imp.refresh_from_db()
    assert imp.state == ScoreImport.State.QUEUED and not Score.objects.exists()
    # What the worker then does (the task body, run here in this process):
    assert tasks.run_score_import.run(imp.pk, "commit", world.user.pk, None) == "committed"
    assert scores() == [(A, THEORY, 85, "", "valid", True)]
    assert tasks.run_score_import.run(imp.pk, "commit", world.user.pk, None) == "committed"
    assert Score.objects.count() == 1


def test_a_commit_invalidates_the_release_hour_cache(world, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from zikao.scores.cache import RELEASES_VERSION_KEY

    cache.set(RELEASES_VERSION_KEY, "before", timeout=None)
    imp, _ = upload(world, csv_bytes([[A, THEORY, "202610", "85", "有效"]]))
    with django_capture_on_commit_callbacks(execute=True):
        run(world, imp, "check")
    assert cache.get(RELEASES_VERSION_KEY) == "before"  # a dry run changes nothing visible
    with django_capture_on_commit_callbacks(execute=True):
        run(world, imp, "commit")
    assert cache.get(RELEASES_VERSION_KEY) not in (None, "before")


def test_the_audit_trail_of_an_import(world, django_capture_on_commit_callbacks):
    imp, _ = upload(world, csv_bytes([[A, THEORY, "202610", "85", "有效"]]))
    with django_capture_on_commit_callbacks(execute=True):
        score_import_request(actor=world.actor, score_import=imp, run="check", replace_unpublished=True)
    run(world, imp, "commit")
    events = list(AuditEvent.objects.order_by("id").values_list("event_type", "subject_id", "actor_user"))
    assert events == [
        ("scores.import_uploaded", str(imp.pk), world.user.pk),
        ("scores.import_requested", str(imp.pk), world.user.pk),
        ("scores.import_checked", str(imp.pk), world.user.pk),
        ("scores.imported", str(imp.pk), world.user.pk),
    ]
    checked = AuditEvent.objects.get(event_type="scores.import_checked")
    assert checked.after["rows_new"] == 1 and checked.after["replace_unpublished"] is True


def test_the_failed_rows_file_cannot_run_formulas_in_a_spreadsheet(world):
    header = [*HEADER, "备注"]
    rows = [
        [C, THEORY, "202610", "-1", "有效", '=HYPERLINK("http://evil.example","x")'],
        ["@SUM(A1)", THEORY, "202610", "70", "有效", "+1 800"],
    ]
    done = run(world, upload(world, csv_bytes(rows, header))[0], "check")
    report = failed_csv(done)
    assert report[1][:6] == [C, THEORY, "202610", "-1", "有效", '\'=HYPERLINK("http://evil.example","x")']
    assert report[2][:6] == ["'@SUM(A1)", THEORY, "202610", "70", "有效", "'+1 800"]
    # The page's sample shows the rows as they were (escaped there by the template).
    assert done.sample_errors[1]["fields"][0] == "@SUM(A1)"
