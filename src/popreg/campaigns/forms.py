"""Web forms of the campaign workflow.  They only parse input; every rule lives in
``popreg.campaigns.actions``, whose errors are placed next to the field they name."""

from __future__ import annotations

from typing import Any

from django import forms

from popreg.campaigns.actions import ACTION_LABELS
from popreg.campaigns.models import FoundPerson, Outcome
from popreg.registry.access import Actor, scope_units
from popreg.registry.actions import CORRECTABLE
from popreg.registry.errors import RegistryError
from popreg.registry.models import AdminUnit

_DATE_ERRORS = {"invalid": "请填写有效日期，格式 年-月-日（如 2025-11-01）", "required": "请填写日期"}
_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d"]


def date_field(label: str, required: bool = True, **kwargs: Any) -> forms.DateField:
    return forms.DateField(
        label=label, required=required, input_formats=_FORMATS, error_messages=_DATE_ERRORS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **kwargs,
    )


class _Base(forms.Form):
    required_css_class = "required"
    error_css_class = "has-error"


def add_error(form: forms.Form, err: RegistryError) -> None:
    """Put an action's error next to the field it names (or on top of the form)."""
    aliases = {"event_date": "date", "scope": "scope_codes", "corrected_value": "value"}
    field = aliases.get(err.field or "", err.field)
    form.add_error(field if field in form.fields else None, err.message)


class CampaignForm(_Base):
    name = forms.CharField(label="活动名称", max_length=120, initial="户口整顿")
    scope_codes = forms.MultipleChoiceField(
        label="范围", widget=forms.CheckboxSelectMultiple,
        help_text="选择县、乡镇(街道)或村(居)委会；所选单位下的全部村都在范围内",
    )
    reference_moment = forms.DateTimeField(
        label="标准时点", input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    preparation_start = date_field("准备阶段开始")
    preparation_end = date_field("准备阶段结束")
    verification_start = date_field("入户核对开始")
    verification_end = date_field("入户核对结束")
    rectification_start = date_field("整改开始")
    rectification_end = date_field("整改结束（整改期限）")
    summary_start = date_field("总结验收开始")
    summary_end = date_field("总结验收结束")
    spot_check_households = forms.IntegerField(label="每村抽查户数", min_value=1, initial=5)
    error_threshold = forms.FloatField(label="抽查差错率上限", min_value=0.001, max_value=0.999, initial=0.05,
                                       help_text="小数，如 0.05 表示 5%；抽查差错率低于此值的村验收通过")
    seed = forms.IntegerField(label="抽样随机种子", initial=20251101,
                              help_text="相同种子抽到相同的户，便于复查")

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        units = scope_units(AdminUnit.objects.filter(level__in=("county", "township"), valid_to__isnull=True), actor)
        self.fields["scope_codes"].choices = [
            (u.code, f"{'　' if u.level == 'township' else ''}{u.name} ({u.code})") for u in units.order_by("code")
        ]


class OutcomeForm(_Base):
    outcome = forms.ChoiceField(label="核对结果", choices=Outcome.choices, widget=forms.RadioSelect)
    field_name = forms.ChoiceField(label="有误项目", required=False,
                                   choices=[("", "—")] + [(k, v) for k, v in CORRECTABLE.items()])
    value = forms.CharField(label="正确值 / 迁往地代码 / 重复记录编号", required=False, max_length=200)
    date = date_field("日期（死亡、迁出）", required=False)
    note = forms.CharField(label="备注", required=False, max_length=200)


class FoundPersonForm(_Base):
    name = forms.CharField(label="姓名", max_length=60)
    sex = forms.ChoiceField(label="性别", choices=[("M", "男"), ("F", "女")], widget=forms.RadioSelect)
    birth_date = date_field("出生日期")
    kind = forms.ChoiceField(label="类别", choices=FoundPerson.Kind.choices, widget=forms.RadioSelect,
                             initial=FoundPerson.Kind.BIRTH)
    id_number = forms.CharField(label="公民身份号码", required=False, max_length=18)
    household_no = forms.CharField(label="户号", required=False, max_length=20)
    address = forms.CharField(label="住址（门牌）", required=False, max_length=200)
    from_unit_code = forms.CharField(label="迁出地代码（迁入未登记时）", required=False, max_length=12)
    date = date_field("迁入日期", required=False)
    note = forms.CharField(label="备注", required=False, max_length=200)


class UploadForm(_Base):
    file = forms.FileField(label="填好的核对表（.xlsx）")


#: The inputs each resolving action reads (the form shows only those of the item's actions).
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "register_death": ("date",),
    "register_enlistment": ("date",),
    "correct_person": ("field_name", "value"),
    "transfer": ("date", "destination_code"),
    "move_out": ("date", "destination_code"),
    "merge_persons": ("other_person_id",),
    "register_birth": ("name", "sex", "birth_date", "id_number", "household_no"),
    "move_in": ("name", "sex", "birth_date", "id_number", "household_no", "from_unit_code", "date"),
}


class ResolveForm(_Base):
    action = forms.ChoiceField(label="整改措施")
    date = date_field("日期（死亡、迁移、入伍、迁入）", required=False)
    field_name = forms.ChoiceField(label="更正项目", required=False,
                                   choices=[("", "—")] + [(k, v) for k, v in CORRECTABLE.items()])
    value = forms.CharField(label="正确值", required=False, max_length=200)
    destination_code = forms.CharField(label="迁往地代码（县内为12位村代码）", required=False, max_length=12)
    other_person_id = forms.CharField(label="保留的记录编号（本记录并入该记录，两份历史都保留）", required=False, max_length=12)
    name = forms.CharField(label="姓名（登记新人员）", required=False, max_length=60)
    sex = forms.ChoiceField(label="性别（登记新人员）", required=False, choices=[("", "—"), ("M", "男"), ("F", "女")])
    birth_date = date_field("出生日期（登记新人员）", required=False)
    id_number = forms.CharField(label="公民身份号码（登记新人员）", required=False, max_length=18)
    household_no = forms.CharField(label="户号（登记新人员）", required=False, max_length=20)
    from_unit_code = forms.CharField(label="迁出地代码（迁入登记）", required=False, max_length=12)

    def __init__(self, *args: Any, actions: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [(a, ACTION_LABELS[a]) for a in actions]
        wanted = {"action"}.union(*(ACTION_FIELDS.get(a, ()) for a in actions))
        for name in list(self.fields):
            if name not in wanted:
                del self.fields[name]


class RejectForm(_Base):
    reason = forms.CharField(label="驳回理由", max_length=200)


class AssignForm(_Base):
    owner = forms.ChoiceField(label="责任人", required=False)
    deadline = date_field("整改期限", required=False)
    start = forms.BooleanField(label="标记为处理中", required=False)

    def __init__(self, *args: Any, owners: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "—")] + owners


class SpotCheckForm(_Base):
    agrees = forms.ChoiceField(label="复核结果", choices=[("1", "与核对结果一致"), ("0", "不一致")],
                               widget=forms.RadioSelect)
    note = forms.CharField(label="差错说明", required=False, max_length=200)


class SignOffForm(_Base):
    unit = forms.CharField(widget=forms.HiddenInput)
    level = forms.ChoiceField(choices=[("village", "村级"), ("township", "乡镇级"), ("county", "县级")],
                              widget=forms.HiddenInput)
    note = forms.CharField(label="验收意见", required=False, max_length=200)
