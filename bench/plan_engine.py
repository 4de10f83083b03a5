"""Plan-engine throughput: graduation audits per second over realistic pass sets.

The engine runs for every progress page and every graduation audit, so it must be cheap next
to the request around it. Reference, measured in the same run on the same pass sets: the
naive audit "is every required course code in the passed set?" (no groups, paths,
substitutions or politics rules) — the floor any plan check costs. Prints both rates and
their ratio. Runs against an in-memory SQLite database; nothing is written elsewhere.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
os.environ["DATABASE_URL"] = "sqlite:///:memory:"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zikao.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from zikao.catalog.models import Plan  # noqa: E402
from zikao.catalog.planstore import plan_context  # noqa: E402
from zikao.catalog.rules import PassedCourse  # noqa: E402
from zikao.catalog.services import catalog_load_reference_data  # noqa: E402
from zikao.core.audit import Actor  # noqa: E402

SAMPLES = int(os.environ.get("BENCH_PLAN_SAMPLES", "3000"))


def pass_sets(plan: Plan, others: list[Plan], rng: random.Random) -> list[list[PassedCourse]]:
    """Random histories: a share of the plan's own items plus some old-version courses."""
    own = [i for i in plan.spec["items"]]
    old = [i for p in others for i in p.spec["items"]]
    sets = []
    for _ in range(SAMPLES):
        share = rng.random()
        chosen = [i for i in own if rng.random() < share] + [i for i in old if rng.random() < 0.15]
        seen: dict[str, PassedCourse] = {}
        for item in chosen:
            code = item["code"]
            seen[code] = PassedCourse(code, item["name"], item["credits"], item["kind"], "exam")
        sets.append(list(seen.values()))
    return sets


def main() -> None:
    call_command("migrate", verbosity=0)
    catalog_load_reference_data(actor=Actor.system("bench"))
    rng = random.Random(20261128)
    print(f"{'plan':<22}{'audits/s':>12}{'naive/s':>12}{'ratio':>9}")
    for plan in Plan.objects.select_related("major").order_by("major__code", "version"):
        others = list(Plan.objects.filter(major=plan.major).exclude(pk=plan.pk))
        sets = pass_sets(plan, others, rng)
        context = plan_context(plan)
        required = [i["code"] for i in plan.spec["items"] if not i.get("groups")]

        start = time.perf_counter()
        complete = sum(context.evaluate(s).complete for s in sets)
        engine = time.perf_counter() - start

        start = time.perf_counter()
        naive_complete = sum(all(c in {p.code for p in s} for c in required) for s in sets)
        naive = time.perf_counter() - start

        label = f"{plan.major.code} {plan.version}"
        print(
            f"{label:<22}{SAMPLES / engine:>12,.0f}{SAMPLES / naive:>12,.0f}{engine / naive:>8.0f}x"
            f"   complete: engine {complete}, naive {naive_complete}"
        )


if __name__ == "__main__":
    main()
