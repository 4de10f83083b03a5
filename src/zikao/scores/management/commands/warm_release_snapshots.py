"""manage.py warm_release_snapshots --sitting 202610 — prepare the release hour's first views.

Before a sitting's release instant T, computes for every candidate with a confirmed entry or a
score in it what they will see at T (their score snapshot as of T, and what the front doors
cache from it: the dashboard page, the API's latest-scores JSON) and files it in the release
cache under T's epoch (`scores.cache.warm_release`); and caches their sign-in state
(`accounts.session_cache.warm_states`), which an older session's first request needs too.
Nothing of it is readable before T; any score write, withholding or release change after the
warming makes it unusable, exactly like any cached snapshot. So candidates' first views after
T are cache hits instead of database work.

Run it once the scores are final, e.g. an hour before T (`--hold` keeps the entries that long
after T). Safe to run again (it overwrites). Split a big province over processes or machines
with `--shard 0/4` … `--shard 3/4`; `--candidate-ids FILE` warms only the listed candidates.
Cost: one call of the read path per candidate and one rendering per registered front door,
about 10–15 ms of CPU per candidate here; the entries take a few KB each in Redis.
"""

from __future__ import annotations

import math
import time

from django.core.management.base import BaseCommand, CommandError
from django.urls import get_resolver

from zikao.accounts.session_cache import warm_states
from zikao.candidates.models import Candidate
from zikao.catalog.models import Sitting
from zikao.core import clock
from zikao.scores.cache import PRERENDERERS, release_candidates, warm_release


def _shard(value: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError as exc:
        raise CommandError("--shard takes K/N, e.g. 0/4") from exc
    if count < 1 or not 0 <= index < count:
        raise CommandError("--shard takes K/N with 0 <= K < N")
    return index, count


class Command(BaseCommand):
    help = "Precompute each candidate's post-release scores (readable only from the release instant)."

    def add_arguments(self, parser):
        parser.add_argument("--sitting", required=True, help="sitting label, e.g. 202610")
        parser.add_argument(
            "--hold", type=int, default=3600, help="seconds to keep the entries after the release instant"
        )
        parser.add_argument("--shard", default="0/1", help="K/N: only candidates with id %% N == K")
        parser.add_argument(
            "--candidate-ids",
            help="file of candidate ids, one a line: only those of them who are candidates of the sitting",
        )
        parser.add_argument("--chunk-size", type=int, default=500)

    def handle(self, *args, **opts):
        get_resolver().url_patterns  # noqa: B018 - imports the front doors, which register their renderers
        sitting = Sitting.objects.filter(label=opts["sitting"]).first()
        if sitting is None:
            raise CommandError(f"no sitting {opts['sitting']}")
        index, count = _shard(opts["shard"])
        ids = [pk for pk in release_candidates(sitting) if pk % count == index]
        if opts["candidate_ids"]:
            try:
                with open(opts["candidate_ids"]) as handle:
                    wanted = {int(line) for line in handle if line.strip()}
            except (OSError, ValueError) as exc:
                raise CommandError(f"--candidate-ids: {exc}") from exc
            ids = [pk for pk in ids if pk in wanted]
        self.stdout.write(
            f"sitting {sitting.label}, release at {sitting.effective_release_at}: {len(ids):,} candidates; "
            f"renderers: {', '.join(sorted(PRERENDERERS)) or '-'}"
        )
        started = time.monotonic()
        done = values = 0
        size = max(1, opts["chunk_size"])
        for start in range(0, len(ids), size):
            chunk = Candidate.objects.filter(pk__in=ids[start : start + size]).order_by("pk")
            try:
                result = warm_release(sitting, chunk, hold=opts["hold"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            # The sign-in check of their first request too (an older session's cached state
            # may have expired): kept as long as the warmed scores.
            hold_until = (result.release_at - clock.now()).total_seconds() + opts["hold"]
            warm_states([c.pk for c in chunk], timeout=max(1, math.ceil(hold_until)))
            done += result.candidates
            values += result.values
            rate = done / max(time.monotonic() - started, 1e-6)
            self.stdout.write(
                f"  {done:,}/{len(ids):,} candidates, {values:,} rendered values ({rate:,.0f}/s)"
            )
        self.stdout.write(f"warmed {done:,} candidates for the release epoch of {sitting.label}")
