"""The English catalog is complete, compiled, and actually used at run time."""

from __future__ import annotations

import gettext
import io
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import translation

import zikao
from zikao.core.errors import ValidationFailed
from zikao.core.identity import parse_id_document

PACKAGE_DIR = Path(zikao.__file__).parent
LOCALE_DIR = PACKAGE_DIR / "locale"
LC_MESSAGES = LOCALE_DIR / "en" / "LC_MESSAGES"
PO_PATH = LC_MESSAGES / "django.po"
MO_PATH = LC_MESSAGES / "django.mo"

# printf-style placeholders: %(name)s, %(line)d, %s, %5.2f … (%% is a literal percent sign)
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}

EN_ID_LENGTH = "A resident ID number must have 18 characters."
ZH_ID_LENGTH = "身份证号码应为18位。"


@dataclass
class Entry:
    msgid: str = ""
    msgstr: str = ""
    flags: set[str] = field(default_factory=set)
    line: int = 0


def _unquote(text: str) -> str:
    text = text.strip()
    assert text.startswith('"') and text.endswith('"'), text
    return re.sub(r"\\(.)", lambda m: ESCAPES[m.group(1)], text[1:-1])


def parse_po(path: Path) -> list[Entry]:
    """Entries of a .po file (header included, msgid ""); enough for Django's simple catalogs."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: str | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            current, target = None, None
            continue
        if current is None:
            current = Entry(line=number)
            entries.append(current)
        if line.startswith("#,"):
            current.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith(("msgctxt", "msgid_plural", "msgstr[")):
            raise AssertionError(f"{path.name}:{number}: unsupported construct, extend parse_po: {line}")
        elif line.startswith("msgid "):
            target, current.msgid = "msgid", _unquote(line[len("msgid ") :])
        elif line.startswith("msgstr "):
            target, current.msgstr = "msgstr", _unquote(line[len("msgstr ") :])
        elif line.startswith('"') and target is not None:
            setattr(current, target, getattr(current, target) + _unquote(line))
        else:
            raise AssertionError(f"{path.name}:{number}: cannot parse {line!r}")
    return entries


def placeholders(text: str) -> set[str]:
    return {p for p in PLACEHOLDER.findall(text) if p != "%%"}


@pytest.fixture(scope="module")
def messages() -> list[Entry]:
    entries = [e for e in parse_po(PO_PATH) if e.msgid]
    assert len(entries) > 100, "the catalog looks truncated"
    return entries


def test_every_entry_is_translated_and_not_fuzzy(messages: list[Entry]) -> None:
    header = next(e for e in parse_po(PO_PATH) if not e.msgid)
    assert "fuzzy" not in header.flags
    assert "Language: en\n" in header.msgstr
    untranslated = [f"line {e.line}: {e.msgid}" for e in messages if not e.msgstr.strip()]
    fuzzy = [f"line {e.line}: {e.msgid}" for e in messages if "fuzzy" in e.flags]
    assert not untranslated, "untranslated:\n" + "\n".join(untranslated)
    assert not fuzzy, "fuzzy:\n" + "\n".join(fuzzy)


def test_placeholders_survive_translation(messages: list[Entry]) -> None:
    wrong = [
        f"line {e.line}: {sorted(placeholders(e.msgid))} != {sorted(placeholders(e.msgstr))}"
        for e in messages
        if placeholders(e.msgid) != placeholders(e.msgstr)
    ]
    assert not wrong, "\n".join(wrong)


def test_msgstr_has_no_chinese_left(messages: list[Entry]) -> None:
    """No untranslated Chinese. Exception: a literal the user must type or find in a file (a
    spreadsheet column header such as “课程代码”, a grade word such as 优秀) may stay when it is
    glossed in English right after it: `“课程代码” (course code)` or `优秀 (excellent)`."""
    han = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3001\u3002]")
    glossed = re.compile(r"“?[\u3400-\u9fff/]+”?(?:\s*\([^)]*[A-Za-z][^)]*\)|(?=,\s*“?[\u3400-\u9fff]))")
    leftover = [f"line {e.line}: {e.msgstr}" for e in messages if han.search(glossed.sub("", e.msgstr))]
    assert not leftover, "\n".join(leftover)


def test_compiled_mo_matches_po(messages: list[Entry]) -> None:
    """The committed .mo is what compilemessages makes of the committed .po (nothing stale)."""
    with MO_PATH.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)
    stale = [f"line {e.line}: {e.msgid}" for e in messages if catalog.gettext(e.msgid) != e.msgstr]
    assert not stale, "recompile with `manage.py compilemessages -l en`:\n" + "\n".join(stale)


def test_there_is_one_catalog() -> None:
    """All strings live in the project catalog (LOCALE_PATHS); no app keeps its own that could shadow it."""
    assert [Path(p).resolve() for p in settings.LOCALE_PATHS] == [LOCALE_DIR.resolve()]
    app_locales = [str(p.relative_to(PACKAGE_DIR)) for p in PACKAGE_DIR.glob("*/locale")]
    assert not app_locales, f"merge these into {LOCALE_DIR} and delete them: {app_locales}"
    stray = [
        str(p.relative_to(PACKAGE_DIR))
        for pattern in ("*.po", "*.mo")
        for p in PACKAGE_DIR.rglob(pattern)
        if LOCALE_DIR not in p.parents
    ]
    assert not stray, f"catalogs outside {LOCALE_DIR}: {stray}"


@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("xgettext", "msgmerge", "msguniq", "msgattrib")),
    reason="GNU gettext is not installed",
)
def test_catalog_covers_every_translatable_source_string(
    messages: list[Entry], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-run makemessages on a copy of the sources: every string found must be in our catalog, translated.

    The copy keeps makemessages from touching the real catalog (and its template work files out of src).
    """
    copy = tmp_path / "zikao"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo"))
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[copy / "locale"]):
        call_command(
            "makemessages",
            locale=["en"],
            ignore_patterns=["demo/*"],
            no_obsolete=True,
            verbosity=0,
            stdout=io.StringIO(),
        )
    regenerated = [e for e in parse_po(copy / "locale" / "en" / "LC_MESSAGES" / "django.po") if e.msgid]
    ours = {e.msgid for e in messages}
    found = {e.msgid for e in regenerated}
    todo = [
        f"{e.msgid!r}" + (" (fuzzy guess)" if "fuzzy" in e.flags else "")
        for e in regenerated
        if e.msgid not in ours or not e.msgstr.strip() or "fuzzy" in e.flags
    ]
    assert not todo, "run makemessages -l en --no-obsolete and translate:\n" + "\n".join(todo)
    stale = sorted(ours - found)
    assert not stale, "no longer in the sources, run makemessages --no-obsolete:\n" + "\n".join(stale)


def test_english_is_a_configured_language() -> None:
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert "en" in dict(settings.LANGUAGES)


@pytest.mark.parametrize(("language", "expected"), [("en", EN_ID_LENGTH), ("zh-hans", ZH_ID_LENGTH)])
def test_domain_error_message_follows_active_language(language: str, expected: str) -> None:
    with translation.override(language):
        with pytest.raises(ValidationFailed) as info:
            parse_id_document("resident_id", "123")
        assert info.value.code == "ID_NUMBER_INVALID"
        assert str(info.value.message) == expected


def test_lazy_domain_message_renders_in_language_at_display_time() -> None:
    with translation.override("zh-hans"), pytest.raises(ValidationFailed) as info:
        parse_id_document("resident_id", "123")
    with translation.override("en"):
        assert str(info.value.message) == EN_ID_LENGTH


@pytest.mark.django_db
def test_home_page_in_english_with_accept_language(client) -> None:
    response = client.get("/", headers={"accept-language": "en"})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "<h1>Candidate Self-Service</h1>" in html
    assert "Higher Education Self-study Examinations Candidate Self-Service System" in html
    assert "考生自助服务" not in html


@pytest.mark.django_db
def test_home_page_in_english_with_language_cookie(client) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get("/", headers={"accept-language": "zh-CN"})
    assert response.status_code == 200
    assert "<h1>Candidate Self-Service</h1>" in response.content.decode()


@pytest.mark.django_db
def test_home_page_defaults_to_chinese(client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>考生自助服务</h1>" in html
    assert "Candidate Self-Service" not in html
