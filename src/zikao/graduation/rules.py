"""Pure rules of graduation: which plan versions a candidate may graduate under, and when."""

from __future__ import annotations

from datetime import date


def plan_version_available(
    *,
    registered_on: date,
    on: date,
    graduate_until: date | None,
    old_candidates_registered_before: date | None,
) -> bool:
    """May a candidate registered on `registered_on` graduate under this plan version on `on`?

    A current version has neither date and is always available. A superseded version (e.g.
    080901 2021 版) is open only to candidates registered before the cut-off (2024-07-01), and
    only until the end of the transition period (2026-06-30) — handbook 编写说明, general rule 2.
    """
    if graduate_until is not None and on > graduate_until:
        return False
    return not (
        old_candidates_registered_before is not None and registered_on >= old_candidates_registered_before
    )
