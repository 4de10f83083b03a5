"""The plan engine (catalog.rules) on every shipped plan, rule by rule."""

from __future__ import annotations

import dataclasses
import random

from tests.catalog.conftest import POLITICS, SPECS, TABLE, all_codes, passes
from zikao.catalog.rules import (
    ALREADY_CREDITED,
    ALREADY_PASSED,
    NOT_REQUIRED,
    PRECONDITION_NOT_MET,
    THEORY_NOT_PASSED,
    THESIS_NOT_YET,
    Fulfilment,
    PassedCourse,
    entry_eligibility,
    evaluate_plan,
)

CS24 = SPECS["080901_benke_2024"]
CS21 = SPECS["080901_benke_2021"]
CHINESE = SPECS["050101_benke_2024"]
ACCOUNTING = SPECS["120203K_benke_2024"]
PRESCHOOL = SPECS["570102K_zhuanke_2024"]
HR = SPECS["590202_zhuanke_2024"]

CHINESE_CORE = ["15040", "15043", "15044", "00037", "00537", "00538", "00539", "00540", "00541", "00536"]


def evaluate(spec, codes, **kwargs):
    return evaluate_plan(spec, passes(*codes), **kwargs)


# --- required items, choices, thesis, practice ---------------------------------------------


def test_080901_complete_with_04751():
    evaluation = evaluate(CS24, all_codes(CS24, skip=("13017",)))
    assert evaluation.complete is True
    assert (evaluation.credits_earned, evaluation.min_total_credits, evaluation.credits_short) == (73, 73, 0)
    assert evaluation.item("04751").fulfilment == Fulfilment("04751", "pass", ("04751",), ("exam",), 3)
    assert evaluation.missing_required == () and evaluation.thesis == ()
    assert [i.code for i in evaluation.items] == list(CS24.codes)


def test_one_course_short_is_named_exactly():
    evaluation = evaluate(CS24, all_codes(CS24, skip=("13017", "02324", "14976")))
    assert evaluation.complete is False
    assert evaluation.missing_required == ("02324",)
    assert evaluation.thesis == ("14976",)
    assert evaluation.thesis_allowed is False
    assert evaluation.open_choices == () and evaluation.short_groups == ()
    assert evaluation.credits_earned == 69
    assert evaluation.credits_short == 4
    assert evaluation.missing_courses == 2
    assert evaluation.item("14976").blocked == THESIS_NOT_YET


def test_choice_still_open_lists_its_options():
    evaluation = evaluate(CS24, all_codes(CS24, skip=("13017", "04751", "14976")))
    assert evaluation.missing_required == ()
    (choice,) = evaluation.open_choices
    assert (choice.id, choice.candidates, choice.short_courses, choice.met) == (
        "network",
        ("13017", "04751"),
        1,
        False,
    )
    assert evaluation.thesis_allowed is False
    assert evaluation.credits_earned == 70


def test_both_choice_options_passed_count_once_the_better_one():
    evaluation = evaluate(CS24, all_codes(CS24))
    assert evaluation.complete is True
    assert evaluation.credits_earned == 76
    assert evaluation.group("network").counted == ("13017",)
    assert evaluation.item("04751").met is True and evaluation.item("04751").counted is False


def test_thesis_only_after_everything_else():
    without_thesis = all_codes(ACCOUNTING, skip=("14848",))
    eligibility = entry_eligibility(ACCOUNTING, passes(*without_thesis))
    assert eligibility["14848"] is None
    evaluation = evaluate(ACCOUNTING, without_thesis)
    assert (evaluation.thesis, evaluation.thesis_allowed, evaluation.complete) == (("14848",), True, False)
    assert evaluation.credits_short == 0
    one_short = [c for c in without_thesis if c != "13753"]
    eligibility = entry_eligibility(ACCOUNTING, passes(*one_short))
    assert eligibility["14848"] == THESIS_NOT_YET
    assert eligibility["13753"] is None
    assert evaluate(ACCOUNTING, [*without_thesis, "14848"]).complete is True


def test_practice_only_after_theory():
    codes = [c for c in all_codes(PRESCHOOL) if c not in ("14601", "14602", "14495", "14496")]
    evaluation = evaluate(PRESCHOOL, codes)
    assert evaluation.practice_blocked == ("14602", "14496")
    assert evaluation.missing_required == ("14601", "14602", "14495", "14496")
    eligibility = entry_eligibility(PRESCHOOL, passes(*codes, "14495"))
    assert eligibility["14602"] == THEORY_NOT_PASSED
    assert eligibility["14601"] is None
    assert eligibility["14496"] is None
    assert eligibility["14495"] == ALREADY_PASSED


def test_practice_passed_before_theory_still_counts():
    # a transferred practice part is met even if its theory course is not (yet) passed
    evaluation = evaluate(PRESCHOOL, ["14602"])
    assert evaluation.item("14602").met is True and evaluation.item("14602").blocked is None


def test_590202_precondition_ten_courses():
    nine = ["15040", "15042", "15041", "13124", "00018", "00019", "13125", "13886", "13126"]
    assert entry_eligibility(HR, passes(*nine))["14105"] == PRECONDITION_NOT_MET
    assert evaluate(HR, nine).precondition_blocked == ("14105",)
    assert entry_eligibility(HR, passes(*nine, "00043"))["14105"] is None
    assert evaluate(HR, [*nine, "00043"]).precondition_blocked == ()


def test_590202_complete_73():
    evaluation = evaluate(HR, all_codes(HR), politics=POLITICS)
    assert (evaluation.complete, evaluation.credits_earned, evaluation.politics_rule) == (True, 73, None)


def test_exemption_and_transfer_methods_are_reported():
    passed = [
        PassedCourse("00018", "计算机应用基础", 2, "theory", "exemption", None),
        PassedCourse("13124", "英语(专)", 7, "theory", "transfer", "202304"),
    ]
    evaluation = evaluate_plan(HR, passed)
    assert evaluation.item("00018").fulfilment.methods == ("exemption",)
    assert evaluation.item("13124").fulfilment.methods == ("transfer",)
    assert evaluation.credits_earned == 9


def test_courses_outside_the_plan_are_unused_and_order_is_deterministic():
    codes = [*all_codes(ACCOUNTING), "00015", "02324"]
    first = evaluate(ACCOUNTING, codes)
    shuffled = codes[:]
    random.Random(4).shuffle(shuffled)
    assert evaluate(ACCOUNTING, shuffled) == first
    assert first.unused == ("00015", "02324")


# --- 050101: two paths, elective set ≥3 courses and ≥14 credits --------------------------


def test_050101_with_foreign_language_three_electives_14_credits():
    evaluation = evaluate(CHINESE, [*CHINESE_CORE, "13000", "03954", "07827", "00814", "10196"])
    assert (evaluation.complete, evaluation.path, evaluation.credits_earned) == (
        True,
        "with_foreign_language",
        76,
    )
    assert evaluation.group("electives").counted == ("03954", "07827", "00814")


def test_050101_electives_short_by_courses_and_credits():
    evaluation = evaluate(CHINESE, [*CHINESE_CORE, "14970", "03954", "00814", "10196"])
    assert evaluation.path == "with_foreign_language"
    assert evaluation.complete is False
    (short,) = evaluation.short_groups
    assert (short.id, short.courses_done, short.credits_done) == ("electives", 2, 9)
    assert (short.short_courses, short.short_credits) == (1, 5)
    assert short.candidates == ("07827", "10398", "14025")
    assert evaluation.missing_required == ()
    assert evaluation.credits_short == 76 - 71
    assert {p.id: p.missing_courses for p in evaluation.paths} == {
        "with_foreign_language": 1,
        "without_foreign_language": 3,
    }


def test_050101_three_courses_but_credits_rule_still_checked():
    # 3 electives of 5+5+4 = 14 meet it; the set rule is courses AND credits
    evaluation = evaluate(CHINESE, [*CHINESE_CORE, "13000", "10398", "14025", "00814"])
    assert evaluation.group("electives").met is True
    assert evaluation.group("electives").credits_done == 14


def test_050101_without_foreign_language_all_five():
    electives = ["03954", "07827", "10398", "14025", "00814"]
    evaluation = evaluate(CHINESE, [*CHINESE_CORE, *electives, "10196"])
    assert (
        evaluation.complete,
        evaluation.path,
        evaluation.credits_earned,
        evaluation.min_total_credits,
    ) == (True, "without_foreign_language", 79, 79)
    assert evaluation.item("13000").counted is False


def test_050101_language_and_all_electives_prefers_most_credits():
    electives = ["03954", "07827", "10398", "14025", "00814"]
    evaluation = evaluate(CHINESE, [*CHINESE_CORE, "13000", *electives, "10196"])
    assert (evaluation.complete, evaluation.path, evaluation.credits_earned) == (
        True,
        "with_foreign_language",
        86,
    )
    assert [p.complete for p in evaluation.paths] == [True, True]


def test_050101_four_electives_no_language_is_one_short_on_either_path():
    evaluation = evaluate(CHINESE, [*CHINESE_CORE, "03954", "07827", "10398", "14025"])
    assert {p.id: (p.missing_courses, p.credits_earned) for p in evaluation.paths} == {
        "with_foreign_language": (2, 75),
        "without_foreign_language": (2, 75),
    }
    # thesis counts as a missing course on both; the tie goes to the first path
    assert evaluation.path == "with_foreign_language"
    assert evaluation.open_choices[0].candidates == ("13000", "14970")


# --- substitution 2021 ↔ 2024 ----------------------------------------------------------------

OLD_WITH_ENGLISH = [c for c in CS21.codes if c not in ("27016", "27017", "27018", "00054", "00321", "27108")]


def test_2021_candidate_graduates_under_2024_by_substitution():
    evaluation = evaluate(CS24, [*OLD_WITH_ENGLISH, "15040"], substitutions=[TABLE], politics=POLITICS)
    assert evaluation.complete is True
    assert (evaluation.credits_earned, evaluation.credits_short) == (73, 0)
    assert evaluation.item("13000").fulfilment == Fulfilment(
        "13000", "table", ("00015",), ("exam",), 7, "080901_benke_2021_2024 row 3→4"
    )
    assert evaluation.item("13014").fulfilment == Fulfilment(
        "13014", "table", ("04738",), ("exam",), 2, "080901_benke_2021_2024 row 6→7"
    )
    assert evaluation.item("00899").fulfilment == Fulfilment(
        "00899", "waived", ("02197",), ("exam",), 0, "080901_benke_2021_2024 row 11→12"
    )
    # the old network course is best used for the 6-credit option of the choice
    assert evaluation.item("13017").fulfilment.sources == ("04741",)
    assert evaluation.item("13017").fulfilment.credits == 6
    assert evaluation.item("04751").met is False
    assert evaluation.item("14976").fulfilment.sources == ("11689",)
    # old practice 02327 has a relation (row 9: not required) so it adds nothing
    assert evaluation.unused == ("02327",)
    assert entry_eligibility(CS24, passes(*OLD_WITH_ENGLISH), substitutions=[TABLE])["00899"] == NOT_REQUIRED


def test_15040_is_needed_even_with_every_old_course():
    evaluation = evaluate(CS24, OLD_WITH_ENGLISH, substitutions=[TABLE], politics=POLITICS)
    assert evaluation.missing_required == ("15040",)
    assert evaluation.complete is False


def test_waived_practice_leaves_credits_short_with_every_course_met():
    codes = [c for c in OLD_WITH_ENGLISH if c != "04741"] + ["15040", "04751"]
    evaluation = evaluate(CS24, codes, substitutions=[TABLE], politics=POLITICS)
    assert evaluation.missing_required == () and evaluation.thesis == ()
    assert evaluation.open_choices == ()
    assert (evaluation.credits_earned, evaluation.credits_short, evaluation.complete) == (70, 3, False)
    # passing the practice part itself closes the gap: the direct pass beats the waiver
    fixed = evaluate(CS24, [*codes, "00899"], substitutions=[TABLE], politics=POLITICS)
    assert (fixed.complete, fixed.credits_earned) == (True, 73)
    assert fixed.item("00899").fulfilment.via == "pass"
    assert fixed.item("00898").fulfilment.sources == ("02197",)


def test_rule_4_single_replacement_course_counts_toward_credits():
    codes = [c for c in OLD_WITH_ENGLISH if c != "04741"] + ["15040", "04751", "00054"]
    evaluation = evaluate(CS24, codes, substitutions=[TABLE], politics=POLITICS)
    assert evaluation.extras == (
        Fulfilment("00054", "extra", ("00054",), ("exam",), 6, "080901_benke_2021_2024 rule 4"),
    )
    assert (evaluation.complete, evaluation.credits_earned) == (True, 76)


def test_two_replacement_courses_substitute_13000():
    base = [c for c in OLD_WITH_ENGLISH if c != "00015"] + ["15040"]
    evaluation = evaluate(CS24, [*base, "00054", "27108"], substitutions=[TABLE])
    assert evaluation.item("13000").fulfilment.sources == ("00054", "27108")
    assert evaluation.item("13000").fulfilment.rule == "080901_benke_2021_2024 row 15-17→4"
    assert evaluation.complete is True
    single = evaluate(CS24, [*base, "00321"], substitutions=[TABLE])
    assert single.missing_required == ("13000",)
    assert [e.code for e in single.extras] == ["00321"]


def test_2024_candidate_graduates_under_2021_plan_in_reverse():
    new_courses = [c for c in CS24.codes if c not in ("15040", "13017")]
    evaluation = evaluate(CS21, new_courses, substitutions=[TABLE], politics=POLITICS)
    assert evaluation.path == "with_foreign_language"
    assert evaluation.missing_required == ()
    assert evaluation.item("00015").fulfilment == Fulfilment(
        "00015", "table", ("13000",), ("exam",), 14, "080901_benke_2021_2024 row 4→3"
    )
    assert evaluation.item("04741").fulfilment.sources == ("04751",)
    assert evaluation.item("02327").fulfilment.via == "waived"
    assert evaluation.item("03708").fulfilment.credits == 2  # the target plan's credits
    # the waived 02327 (1 credit) leaves the 2021 plan one credit short
    assert (evaluation.credits_earned, evaluation.credits_short, evaluation.complete) == (72, 1, False)
    # the 2+ 换考 row only works old → new
    assert evaluate(CS21, ["13000"], substitutions=[TABLE]).item("00054").met is False


def test_2021_plan_without_language_path():
    codes = [c for c in CS21.codes if c not in ("00015", "27016", "27017", "27018")]
    evaluation = evaluate(CS21, codes)
    assert (evaluation.complete, evaluation.path, evaluation.credits_earned) == (
        True,
        "without_foreign_language",
        75,
    )


def test_tables_of_other_majors_are_ignored():
    other = dataclasses.replace(TABLE, major_code="050101")
    evaluation = evaluate(CS24, OLD_WITH_ENGLISH, substitutions=[other])
    assert evaluation.item("13000").met is False


# --- politics-course rules ---------------------------------------------------------------------

ACCOUNTING_REST = [c for c in ACCOUNTING.codes if c not in ("15043", "15044")]
PRESCHOOL_REST = [c for c in PRESCHOOL.codes if c not in ("15041", "15042")]


def test_benke_rule_1_two_old_courses_leave_only_15040():
    evaluation = evaluate(ACCOUNTING, [*ACCOUNTING_REST, "00004", "99041"], politics=POLITICS)
    assert evaluation.complete is True
    assert evaluation.politics_rule == "jiangsu_2024 benke RULE-1"
    assert evaluation.item("15043").fulfilment == Fulfilment(
        "15043", "politics", ("00004", "99041"), ("exam", "exam"), 3, "jiangsu_2024 benke RULE-1"
    )
    assert evaluation.item("15044").fulfilment.via == "politics"
    assert evaluation.credits_earned == 73


def test_benke_rule_2_one_old_course_needs_15043():
    evaluation = evaluate(ACCOUNTING, [*ACCOUNTING_REST, "99043"], politics=POLITICS)
    assert evaluation.politics_rule == "jiangsu_2024 benke RULE-2"
    assert evaluation.item("15044").fulfilment.sources == ("99043",)
    assert evaluation.missing_required == ("15043",)


def test_benke_rule_3_only_03708_needs_15044():
    evaluation = evaluate(ACCOUNTING, [*ACCOUNTING_REST, "03708"], politics=POLITICS)
    assert evaluation.politics_rule == "jiangsu_2024 benke RULE-3"
    assert evaluation.item("15043").fulfilment.sources == ("03708",)
    assert evaluation.missing_required == ("15044",)


def test_benke_03708_and_03709_is_rule_1_and_alias_codes_count_once():
    assert (
        evaluate(ACCOUNTING, ["03708", "03709"], politics=POLITICS).politics_rule
        == "jiangsu_2024 benke RULE-1"
    )
    # 00005 and 99033 are the same seq 2: one seq only → RULE-2
    same_seq = evaluate(ACCOUNTING, ["00005", "99033"], politics=POLITICS)
    assert same_seq.politics_rule == "jiangsu_2024 benke RULE-2"


def test_15040_is_never_replaced():
    all_old = ["00004", "03709", "99041", "99043", "28001", "03708"]
    evaluation = evaluate(
        ACCOUNTING, [c for c in ACCOUNTING_REST if c != "15040"] + all_old, politics=POLITICS
    )
    assert evaluation.missing_required == ("15040",)
    assert evaluation.item("15040").met is False
    # even a rule set that lists 15040 among its replacements cannot replace it
    rogue = dataclasses.replace(
        POLITICS, rules=tuple(dataclasses.replace(r, replaces=("15040", *r.replaces)) for r in POLITICS.rules)
    )
    evaluation = evaluate(ACCOUNTING, all_old, politics=rogue)
    assert evaluation.item("15040").met is False
    assert evaluate(PRESCHOOL, ["00001", "12656", "03706"], politics=rogue).item("15040").met is False


def test_zhuanke_rule_1_two_old_courses():
    evaluation = evaluate(PRESCHOOL, [*PRESCHOOL_REST, "00001", "03706"], politics=POLITICS)
    assert evaluation.politics_rule == "jiangsu_2024 zhuanke RULE-1"
    assert (evaluation.complete, evaluation.credits_earned) == (True, 82)
    assert evaluation.item("15041").fulfilment.sources == ("00001", "03706")


def test_zhuanke_rule_2_one_of_seq_1_to_4_needs_15042():
    evaluation = evaluate(PRESCHOOL, [*PRESCHOOL_REST, "03707"], politics=POLITICS)
    assert evaluation.politics_rule == "jiangsu_2024 zhuanke RULE-2"
    assert evaluation.item("15041").fulfilment.sources == ("03707",)
    assert evaluation.missing_required == ("15042",)


def test_zhuanke_rule_3_only_seq_5_needs_15041():
    evaluation = evaluate(PRESCHOOL, [*PRESCHOOL_REST, "27702"], politics=POLITICS)
    assert evaluation.politics_rule == "jiangsu_2024 zhuanke RULE-3"
    assert evaluation.item("15042").fulfilment.sources == ("27702",)
    assert evaluation.missing_required == ("15041",)
    assert entry_eligibility(PRESCHOOL, passes("27702"), politics=POLITICS)["15042"] == ALREADY_CREDITED


def test_zhuanke_rules_do_not_apply_to_benke_codes_only():
    # 03708 is a 本科 seq; on a 专科 plan it is nothing
    evaluation = evaluate(PRESCHOOL, ["03708"], politics=POLITICS)
    assert evaluation.politics_rule is None
    assert evaluation.unused == ("03708",)


def test_direct_pass_and_politics_rule_together():
    evaluation = evaluate(ACCOUNTING, [*ACCOUNTING_REST, "15043", "00004", "99041"], politics=POLITICS)
    assert evaluation.item("15043").fulfilment.via == "pass"
    assert evaluation.item("15044").fulfilment.via == "politics"
    assert evaluation.complete is True


def test_entry_eligibility_full_map():
    eligibility = entry_eligibility(ACCOUNTING, passes("15040", "13752", "99043"), politics=POLITICS)
    assert list(eligibility) == list(ACCOUNTING.codes)
    assert eligibility == {
        "15040": ALREADY_PASSED,
        "15043": None,
        "15044": ALREADY_CREDITED,
        "13000": None,
        "04184": None,
        "13887": None,
        "13683": None,
        "13140": None,
        "13752": ALREADY_PASSED,
        "13753": None,
        "08119": None,
        "00160": None,
        "13141": None,
        "11002": None,
        "03409": None,
        "14033": None,
        "14848": THESIS_NOT_YET,
    }
