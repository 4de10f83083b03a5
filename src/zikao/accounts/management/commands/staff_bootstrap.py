"""`manage.py staff_bootstrap USERNAME --office 320000`: the first staff administrator of a new
deployment (or a way back in when every staff admin is locked out). See
`zikao.accounts.services_staff.staff_bootstrap`.

The password is asked for twice on the terminal, or read from ZIKAO_BOOTSTRAP_PASSWORD when
there is no terminal. The account enrols its authenticator at the next sign-in (/office/login/).
"""

from __future__ import annotations

import getpass
import os

from django.core.management.base import BaseCommand, CommandError

from zikao.accounts.services_staff import staff_bootstrap
from zikao.core.audit import Actor
from zikao.core.errors import DomainError


class Command(BaseCommand):
    help = "Create or recover a staff administrator of an office; the TOTP device is enrolled at sign-in."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--office", required=True, help="6-digit region code of the office, e.g. 320000")
        parser.add_argument("--name", default="", help="the person's name")
        parser.add_argument(
            "--technical", action="store_true", help="also a superuser with access to /admin/"
        )

    def handle(self, *args, **opts):
        password = os.environ.get("ZIKAO_BOOTSTRAP_PASSWORD", "")
        if not password:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords differ.")
        try:
            user = staff_bootstrap(
                actor=Actor.system("staff_bootstrap"),
                username=opts["username"],
                name=opts["name"],
                office_region_code=opts["office"],
                password=password,
                technical=opts["technical"],
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{user.get_username()} is a staff administrator of {user.office}. Sign in at /office/login/ "
                "and scan the QR code with an authenticator app."
            )
        )
