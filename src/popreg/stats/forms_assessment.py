"""The assessment rules form: one row per rule (indicator, band or threshold, weight, veto),
turned into the rule-set definition that ``actions.do_save_rule_set`` stores.

Every field is checked in one pass and every error is shown next to its field; nothing
here writes (the view previews with :func:`popreg.stats.assessment.preview` or saves
through the action).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from popreg.core.rules import RuleSet
from popreg.stats.assessment_text import COMPARISON_LABELS, INDICATOR_LABELS, MISSING_LABELS

#: The few-events rule the form offers (the sex ratio at birth of a unit with few births).
SRB_FEW_EVENTS = {"count": "sexed_births", "low": "srb_low", "high": "srb_high"}
BLANK_ROWS = 2


class RuleSetHeaderForm(forms.Form):
    name = forms.CharField(label=_("Name of the rule set"), max_length=120)
    version = forms.IntegerField(label=_("Version"), min_value=1,
                                 help_text=_("A saved version never changes: a change is saved as a new version."))


class RuleForm(forms.Form):
    indicator = forms.ChoiceField(label=_("Indicator"), required=False,
                                  choices=[("", "—"), *INDICATOR_LABELS.items()])
    comparison = forms.ChoiceField(label=_("Kind of target"), choices=list(COMPARISON_LABELS.items()), initial="band")
    low = forms.FloatField(label=_("Lower bound"), required=False)
    high = forms.FloatField(label=_("Upper bound"), required=False)
    threshold = forms.FloatField(label=_("Threshold"), required=False)
    weight = forms.FloatField(label=_("Points"), required=False, min_value=0)
    veto = forms.BooleanField(label=_("Veto"), required=False)
    missing = forms.ChoiceField(label=_("Without a value"), choices=list(MISSING_LABELS.items()), initial="fail")
    few_min = forms.IntegerField(
        label=_("Too few births below"), required=False, min_value=1,
        help_text=_("Sex ratio at birth only: with fewer births of known sex, the rule is met when the ratio's 95% range includes part of the band."),  # noqa: E501
    )
    label = forms.CharField(label=_("Own label (optional)"), required=False, max_length=60)

    def __init__(self, *args: Any, extra_indicators: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # an indicator of a stored rule that the list does not name stays choosable (by its label)
        extra = [(k, v) for k, v in (extra_indicators or {}).items() if k not in INDICATOR_LABELS]
        if extra:
            field = self.fields["indicator"]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [("", "—"), *INDICATOR_LABELS.items(), *extra]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if not data.get("indicator"):
            return data  # an empty row is left out (the formset checks that one rule remains)
        if data.get("weight") is None and "weight" not in self.errors:
            self.add_error("weight", _("Enter the points this rule is worth (0 or more)."))
        comparison = data.get("comparison")
        low, high, threshold = data.get("low"), data.get("high"), data.get("threshold")
        if comparison == "band":
            if low is None and high is None and "low" not in self.errors and "high" not in self.errors:
                self.add_error("low", _("A band needs a lower bound, an upper bound or both."))
            if low is not None and high is not None and low > high:
                self.add_error("high", _("The upper bound is below the lower bound: swap them."))
        elif comparison in ("at_least", "at_most") and threshold is None and "threshold" not in self.errors:
            self.add_error("threshold", _("Enter the threshold."))
        if data.get("few_min") is not None and (data.get("indicator") != "srb" or comparison != "band"):
            self.add_error("few_min", _("Only a band rule on the sex ratio at birth can be judged by its range."))
        return data

    def as_rule(self) -> dict[str, Any]:
        d = self.cleaned_data
        rule: dict[str, Any] = {"id": d["indicator"], "indicator": d["indicator"], "comparison": d["comparison"],
                                "weight": d["weight"], "veto": bool(d.get("veto")), "missing": d["missing"]}
        if d.get("label"):
            rule["label"] = d["label"]
        if d["comparison"] == "band":
            rule["low"], rule["high"] = d.get("low"), d.get("high")
        else:
            rule["threshold"] = d.get("threshold")
        if d.get("few_min") is not None:
            rule["few_events"] = {**SRB_FEW_EVENTS, "min": d["few_min"]}
        return rule


class BaseRuleFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set[str] = set()
        used = 0
        for form in self.forms:
            ind = form.cleaned_data.get("indicator")
            if not ind:
                continue
            used += 1
            if ind in seen:
                form.add_error("indicator", _("This indicator already has a rule above: one rule per indicator."))
            seen.add(ind)
        if not used:
            raise forms.ValidationError(_("Choose an indicator for at least one rule."))


RuleFormSet = formset_factory(RuleForm, formset=BaseRuleFormSet, extra=0)


def stored_indicators(rule_set: RuleSet | None) -> dict[str, str]:
    """Indicators of a stored rule set with the name the form shows for them."""
    if rule_set is None:
        return {}
    return {r.indicator: r.label or r.indicator for r in rule_set.rules}


def initial_rules(rule_set: RuleSet | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Header and rule rows of the form, filled from a stored rule set (next version)."""
    if rule_set is None:
        return {"version": 1}, [{} for _i in range(BLANK_ROWS + 1)]
    rows: list[dict[str, Any]] = []
    for r in rule_set.rules:
        rows.append({"indicator": r.indicator, "comparison": r.comparison, "low": r.low, "high": r.high,
                     "threshold": r.threshold, "weight": r.weight, "veto": r.veto, "missing": r.missing,
                     "few_min": int(r.few_events.min) if r.few_events is not None else None,
                     "label": r.label})  # fmt: skip
    return {"name": rule_set.name, "version": rule_set.version + 1}, rows + [{} for _i in range(BLANK_ROWS)]


def definition(header: RuleSetHeaderForm, formset: Any) -> dict[str, Any]:
    """The rule-set definition (JSON of :mod:`popreg.core.rules`) from valid forms."""
    rules = [f.as_rule() for f in formset.forms if f.cleaned_data.get("indicator")]
    return {"name": header.cleaned_data["name"], "version": header.cleaned_data["version"], "rules": rules}
