from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from popreg.registry.access import system_actor
from popreg.registry.actions import do_assign_role
from popreg.registry.audit import AuditAction, audit
from popreg.registry.login_security import second_factor_required
from popreg.registry.models import AdminUnit, Person


class Command(BaseCommand):
    help = "Create (or reset) one demo account per role and print their passwords (演示账号)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--password", help="use this password for every account (default: random; "
                            "it must pass the password rules: 12 characters, not common)")

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
            ("tongji", "county_statistician", county, False, "县统计员 county statistician"),
            ("shenji", "auditor", county, False, "审计员 auditor"),
            ("xiangzhen", "township_officer", town, False, f"乡镇户籍干部 township officer, {town.name}"),
            ("cunyuan", "village_clerk", village, False, f"村户籍员 village clerk, {village.name}"),
            ("fuli", "benefits_officer", county, False, "县福利补助经办员 county benefits officer"),
            ("fuli2", "benefits_officer", county, False, "县福利补助经办员（审批） county benefits officer (approves)"),
        ]
        User = get_user_model()
        if opts["password"]:
            try:
                validate_password(opts["password"])
            except ValidationError as exc:
                raise CommandError("密码不符合要求 / the password is refused: " + " ".join(exc.messages)) from exc
        actor = system_actor("demo_accounts")
        self.stdout.write("演示账号 / demo accounts (http://127.0.0.1:8000/):")
        for username, role, unit, superuser, label in spec:
            password = opts["password"] or secrets.token_urlsafe(12)
            user, created = User.objects.get_or_create(username=username)
            user.is_superuser = user.is_staff = superuser
            user.set_password(password)
            user.save()
            audit(actor, AuditAction.CREATE_USER if created else AuditAction.RESET_PASSWORD, user,
                  unit_code=unit.code,
                  detail={"user": username, "superuser": superuser, "command": "demo_accounts"})
            do_assign_role(actor, user, role, unit.code)
            self.stdout.write(f"  {username:<10} {password:<18} {label}")
        if second_factor_required(User.objects.get(username="admin")):
            self.stdout.write(
                "两步验证 / second factor: admin 和 shenji 首次登录时用验证器应用（TOTP）扫码或输入密钥，"
                "再输入应用显示的 6 位数字 / admin and shenji enrol an authenticator app (TOTP) at "
                "their first login: scan the code or type the key, then enter the 6-digit code it shows"
            )
        self.stdout.write(
            f"连续输错密码 {settings.AXES_FAILURE_LIMIT} 次将锁定 {settings.POPREG_LOGIN_COOLOFF_MINUTES} 分钟 / "
            f"{settings.AXES_FAILURE_LIMIT} wrong passwords lock the account for "
            f"{settings.POPREG_LOGIN_COOLOFF_MINUTES} minutes (reset: popreg axes_reset)"
        )
