"""`manage.py demo`: build the demo province (see zikao.demo.build).

Re-running on a database that already holds candidates prints that the province exists and
exits 0 without touching anything; `--reset` wipes candidates and sittings first and rebuilds.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from zikao.demo.build import DEFAULT_SEED, BuildOptions, build_province


class Command(BaseCommand):
    help = (
        "Build the demo province: Jiangsu offices, real plans, sittings 201904–202610, synthetic candidates."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--candidates", type=int, default=2000, help="number of candidates (default 2000)"
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
        )
        parser.add_argument(
            "--release-in",
            type=int,
            default=None,
            metavar="MINUTES",
            help="minutes from the end of the build until 202610 scores are released "
            "(default settings.ZIKAO_DEMO_RELEASE_DELAY_MINUTES)",
        )
        parser.add_argument(
            "--reset", action="store_true", help="wipe candidates and sittings first, then rebuild"
        )
        parser.add_argument(
            "--defer-indexes",
            choices=["auto", "always", "never"],
            default="auto",
            help="PostgreSQL: drop and recreate indexes/foreign keys of the big tables around the load "
            "(auto: from 20,000 candidates)",
        )
        parser.add_argument("--chunk-size", type=int, default=5000, help="candidates per COPY/bulk batch")

    def handle(self, *args, **opts):
        if opts["candidates"] < 0 or opts["chunk_size"] < 1:
            raise CommandError("--candidates must be ≥ 0 and --chunk-size ≥ 1")
        release_in = opts["release_in"]
        if release_in is None:
            release_in = settings.ZIKAO_DEMO_RELEASE_DELAY_MINUTES
        options = BuildOptions(
            candidates=opts["candidates"],
            seed=opts["seed"],
            release_in_minutes=release_in,
            reset=opts["reset"],
            defer_indexes=opts["defer_indexes"],
            chunk_size=opts["chunk_size"],
        )
        try:
            result = build_province(options, log=self.stdout.write)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        if result.existed:
            self.stdout.write(
                f"The demo province already exists ({result.counts['candidates']:,} candidates); "
                "nothing to do. Run `manage.py demo --reset` to rebuild it."
            )
        else:
            counts = result.counts
            self.stdout.write(self.style.SUCCESS(f"Demo province built in {result.seconds:.1f}s."))
            self.stdout.write(
                "  " + ", ".join(f"{key.replace('_', ' ')} {value:,}" for key, value in counts.items())
            )
            release = timezone.localtime(result.latest_release_at)
            self.stdout.write(
                f"  202610 scores are released at {release:%Y-%m-%d %H:%M} ({release_in} min from now)."
            )
        self._print_logins(result)

    def _print_logins(self, result) -> None:
        """The demo logins (演示账号), printed on every run so `make run` always shows them."""
        self.stdout.write("")
        self.stdout.write("Demo logins / 演示账号")
        self.stdout.write(
            "Demo staff logins (demo only; /office/login/: password, then a code from an authenticator "
            "app set up with the TOTP secret; the superuser also reaches /admin/):"
        )
        for username, password, office in result.staff:
            self.stdout.write(f"  {username:<10} {password:<20} {office}")
        if result.showcases:
            self.stdout.write("")
            self.stdout.write("Demo candidates (synthetic; first password = birth date YYYYMMDD):")
            for row in result.showcases:
                self.stdout.write(
                    f"  {row.candidate_no}  {row.name}  {row.id_number}  password {row.birth_date:%Y%m%d}  "
                    f"{row.major}, {row.county} — {row.role}"
                )
