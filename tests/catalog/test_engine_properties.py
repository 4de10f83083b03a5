"""Invariants of the plan engine over random sets of passes (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.catalog.conftest import POLITICS, SPECS, TABLE, passes
from zikao.catalog.rules import THESIS_NOT_YET, entry_eligibility, evaluate_plan

POOL = sorted(
    set(SPECS["080901_benke_2021"].codes)
    | set(SPECS["080901_benke_2024"].codes)
    | {"00004", "99041", "99043", "03706", "12656", "00018", "13124"}
)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(SPECS)),
    codes=st.lists(st.sampled_from(POOL), unique=True, max_size=len(POOL)),
    seed=st.randoms(use_true_random=False),
)
def test_evaluation_invariants(name, codes, seed):
    spec = SPECS[name]
    evaluation = evaluate_plan(spec, passes(*codes), substitutions=[TABLE], politics=POLITICS)
    shuffled = list(codes)
    seed.shuffle(shuffled)
    assert evaluate_plan(spec, passes(*shuffled), substitutions=[TABLE], politics=POLITICS) == evaluation

    counted = sum(i.fulfilment.credits for i in evaluation.items if i.counted)
    assert evaluation.credits_earned == counted + sum(e.credits for e in evaluation.extras)
    assert evaluation.credits_short == max(0, evaluation.min_total_credits - evaluation.credits_earned)
    assert evaluation.complete == (evaluation.missing_courses == 0 and evaluation.credits_short == 0)
    assert [i.code for i in evaluation.items] == list(spec.codes)
    for item in evaluation.items:
        assert item.counted <= item.met
        if item.code == "15040":
            assert item.fulfilment is None or item.fulfilment.via == "pass"
    # a passed course serves one substitution / pass only, and extras are otherwise unused
    uses: dict[str, set[str]] = {}
    for item in evaluation.items:
        if item.fulfilment is not None:
            for code in item.fulfilment.sources:
                uses.setdefault(code, set()).add(item.fulfilment.rule or "pass")
    assert all(len(rules) == 1 for rules in uses.values()), uses
    assert not {e.code for e in evaluation.extras} & set(uses)
    assert not set(evaluation.unused) & (set(uses) | {e.code for e in evaluation.extras})
    eligibility = entry_eligibility(spec, passes(*codes), substitutions=[TABLE], politics=POLITICS)
    for item in spec.items:
        if item.kind == "thesis" and not evaluation.item(item.code).met:
            assert (eligibility[item.code] == THESIS_NOT_YET) != evaluation.thesis_allowed
    if evaluation.thesis_allowed:
        assert (
            evaluation.missing_required == ()
            and evaluation.open_choices == ()
            and evaluation.short_groups == ()
        )
