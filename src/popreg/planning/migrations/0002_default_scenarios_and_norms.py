"""Seed the four default scenarios and the two planning norms (editable afterwards)."""

from datetime import date

from django.db import migrations

SCENARIOS = [
    # code, 中文, English, TFR change, years to reach it, e0 gain a year, net migration factor
    ("low", "低方案", "low", -0.3, 5, 0.15, 0.5),
    ("medium", "中方案", "medium", 0.0, 5, 0.2, 1.0),
    ("high", "高方案", "high", 0.3, 5, 0.25, 1.5),
    ("constant", "不变方案", "constant", 0.0, 1, 0.0, 1.0),
]
NORMS = [
    ("grain_per_person", 750.0, date(2000, 1, 1),
     "县规划常用标准：人均粮食需求每年 750 斤（可按本县实际修改） / the county's planning norm: "
     "750 jin of grain per person a year (change it to the county's own)"),
    ("care_beds_per_1000", 30.0, date(2011, 12, 16),
     "《社会养老服务体系建设规划（2011—2015年）》：每千名老年人拥有养老床位 30 张（该规划按 60 岁以上计） / "
     "Plan for the social elderly-care service system 2011–2015: 30 beds per 1,000 older people "
     "(that plan counts people aged 60+)"),
]


def seed(apps, schema_editor):
    Scenario = apps.get_model("planning", "Scenario")
    Norm = apps.get_model("planning", "Norm")
    for position, (code, zh, en, offset, years, gain, factor) in enumerate(SCENARIOS):
        Scenario.objects.get_or_create(code=code, defaults={
            "name_zh": zh, "name_en": en, "tfr_offset": offset, "path_years": years,
            "e0_gain_per_year": gain, "migration_factor": factor, "position": position})
    for key, value, valid_from, source in NORMS:
        Norm.objects.get_or_create(key=key, valid_from=valid_from, defaults={"value": value, "source": source})


def unseed(apps, schema_editor):
    apps.get_model("planning", "Scenario").objects.filter(code__in=[s[0] for s in SCENARIOS]).delete()
    apps.get_model("planning", "Norm").objects.filter(valid_from__in=[n[2] for n in NORMS]).delete()


class Migration(migrations.Migration):
    dependencies = [("planning", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
