"""One vocabulary of labels: every choice of the registry and campaign models has one label,
an English message id translated to Chinese in its app's catalog, and no module keeps its own
dictionary of those labels (they drifted apart when they did: 已迁出 / 已迁走)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
from django.db import models
from django.utils import translation

import popreg
from popreg.campaigns import models as campaign_models
from popreg.registry import models as registry_models
from popreg.registry.vocabulary import chinese_label, chinese_labels, label_lookup, value_of

SRC = Path(popreg.__file__).parent
CJK = re.compile(r"[\u3400-\u9fff]")


def _choice_classes() -> list[type[models.Choices]]:
    found: list[type[models.Choices]] = []

    def walk(owner: object) -> None:
        for _name, obj in vars(owner).items():
            ours = inspect.isclass(obj) and obj.__module__ == module.__name__
            if ours and issubclass(obj, models.Choices) and obj not in found:
                found.append(obj)
            if inspect.isclass(obj) and issubclass(obj, models.Model) and obj.__module__ == module.__name__:
                walk(obj)

    for module in (registry_models, campaign_models):
        walk(module)
    return found


CHOICES = _choice_classes()


def test_the_vocabulary_is_found():
    names = {c.__qualname__ for c in CHOICES}
    assert {"Sex", "ResidenceType", "Status", "EventType", "Role", "UnitLevel", "Household.Kind", "Outcome",
            "Phase", "ItemStatus", "FoundPerson.Kind", "SpotCheck.Result", "SignOff.Level"} <= names


@pytest.mark.parametrize("choices", CHOICES, ids=lambda c: c.__qualname__)
def test_every_choice_has_an_english_label_and_a_chinese_translation(choices):
    for member in choices:
        with translation.override("en"):
            english = str(member.label)
        with translation.override("zh-hans"):
            chinese = str(member.label)
        assert english and not CJK.search(english), (member, english)
        assert chinese != english and CJK.search(chinese), (member, chinese)
        assert chinese_label(member) == chinese
        # a workbook cell or form value in either language reads back as the value
        assert value_of(choices, chinese) == value_of(choices, english) == value_of(choices, member.value) == member.value
    with translation.override("zh-hans"):
        labels = [str(m.label) for m in choices]
    assert len(set(labels)) == len(labels), f"two {choices.__qualname__} choices share a Chinese label"


def test_chinese_labels_do_not_depend_on_the_active_language():
    with translation.override("en"):
        assert chinese_labels(campaign_models.Outcome)["moved_away"] == "已迁出"
        assert str(campaign_models.Outcome.MOVED_AWAY.label) == "Moved away"
        assert label_lookup(registry_models.Sex)["女"] == "F"


TRANSLATE = {"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy"}
#: Copies kept on purpose, with the reason.
KEPT = {
    # lower-case unit levels inside English sentences ("Comparison and ranking by township")
    "stats/views.py LEVEL_LABELS",
}


def _label_value(node: ast.expr) -> bool:
    """Chinese text, or a translation call (``_("...")``): a label, not a code."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(CJK.search(node.value))
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in TRANSLATE


def _kept(path: Path, root: Path, tree: ast.Module, node: ast.Dict) -> bool:
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and stmt.value is node:
            names = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
            return any(f"{path.relative_to(root)} {n}" in KEPT for n in names)
    return False


def label_copies(path: Path, root: Path = SRC) -> list[str]:
    """Dict literals in ``path`` whose keys are all values of one choices class, mapped to labels."""
    vocab = {c.__qualname__: set(c.values) for c in CHOICES}
    out = []
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict) or len(node.keys) < 2 or _kept(path, root, tree, node):
            continue
        keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
        if len(keys) != len(node.keys) or not all(_label_value(v) for v in node.values):
            continue
        for name, values in vocab.items():
            if set(keys) <= values:
                out.append(f"{path.relative_to(root)}:{node.lineno} copies the labels of {name}")
    return out


def test_the_scan_finds_a_copy(tmp_path):
    copy = tmp_path / "probe.py"
    copy.write_text('OUTCOMES = {"confirmed": "核实无误", "moved_away": _("Moved away")}\n'
                    'N = {"M": 1, "F": 2}\nNEXT = {"county": "township", "township": "village"}\n')
    assert label_copies(copy, tmp_path) == ["probe.py:1 copies the labels of Outcome"]


def test_no_module_keeps_its_own_copy_of_the_labels():
    # popreg.core has no Django (it cannot read the models) and says 男/女 in its own messages.
    paths = [p for p in SRC.rglob("*.py") if "migrations" not in p.parts and p.parent.name != "core"]
    copies = [c for p in paths for c in label_copies(p)]
    assert not copies, copies
