from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from popreg.registry.access import system_actor
from popreg.registry.actions import do_assign_role
from popreg.registry.models import AdminUnit, Person


class Command(BaseCommand):
    help = "Create (or reset) one demo account per role and print their passwords (演示账号)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--password", help="use this password for every account (default: random)")

    @transaction.atomic
    def handle(self, *args: Any, **opts: Any) -> None:
        county = AdminUnit.objects.filter(level="county").order_by("code").first()
        if county is None:
            raise CommandError("登记库中没有县级单位，请先载入数据 / no county in the registry: load data first")
        # The county-town township: the township with the most registered people.
        towns = AdminUnit.objects.filter(level="township", parent=county).order_by("code")
        town = max(towns, key=lambda t: Person.objects.filter(registered_unit_id__startswith=t.code[:9]).count())
        village = (AdminUnit.objects.filter(level="village", parent=town).order_by("code").first())
        if village is None:
            raise CommandError("没有村级单位 / no village units")
        spec = [
            ("admin", "county_admin", county, True, "县级管理员 county administrator (+ superuser)"),
            ("tongji", "county_statistician", county, False, "县统计员 county statistician (read-only)"),
            ("shenji", "auditor", county, False, "审计员 auditor"),
            ("xiangzhen", "township_officer", town, False, f"乡镇户籍干部 township officer, {town.name}"),
            ("cunyuan", "village_clerk", village, False, f"村户籍员 village clerk, {village.name}"),
        ]
        User = get_user_model()
        actor = system_actor("demo_accounts")
        self.stdout.write("演示账号 / demo accounts (http://127.0.0.1:8000/):")
        for username, role, unit, superuser, label in spec:
            password = opts["password"] or secrets.token_urlsafe(9)
            user, _ = User.objects.get_or_create(username=username)
            user.is_superuser = user.is_staff = superuser
            user.set_password(password)
            user.save()
            do_assign_role(actor, user, role, unit.code)
            self.stdout.write(f"  {username:<10} {password:<14} {label}")
