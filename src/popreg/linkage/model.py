"""Linkage models: Splink settings built from our comparisons, trained, saved as JSON.

A model file is JSON::

    {
      "popreg_model": {"format": 1, "name": "registry", "version": "2025.1",
                        "threshold": 0.9, "trained_on": "...", "recipe": "..."},
      "splink": { ... Splink's own model JSON (settings + m/u per level) ... }
    }

The ``splink`` part is exactly what ``linker.misc.save_model_to_json`` writes, so the
model can be inspected with Splink's tools.  When a model is loaded for a backend
(DuckDB or Spark), the comparisons are rebuilt from code for that SQL dialect and the
trained m/u probabilities copied level by level, so one model file serves both engines.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from splink import SettingsCreator
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_creator import ComparisonCreator

from popreg.linkage import blocking, comparisons

FORMAT = 1
DEFAULT_MODEL = "registry-v1.json"
DEFAULT_THRESHOLD = 0.4
SEED = 20251101

logger = logging.getLogger(__name__)


@dataclass
class LinkageModel:
    """A Splink model plus our metadata."""

    name: str = "registry"
    version: str = "1"
    threshold: float = DEFAULT_THRESHOLD
    splink: dict[str, Any] | None = None  # trained Splink settings (None: untrained)
    meta: dict[str, Any] = field(default_factory=dict)

    def comparisons(self) -> list[ComparisonCreator]:
        if self.name == "generic":
            return comparisons.generic_comparisons()
        return comparisons.registry_comparisons()

    def prediction_rules(self) -> list[BlockingRuleCreator]:
        if self.name == "generic":
            return blocking.generic_prediction_rules()
        return blocking.prediction_rules()

    def training_rules(self) -> list[BlockingRuleCreator]:
        if self.name == "generic":
            return blocking.generic_training_rules()
        return blocking.training_rules()

    def unique_id(self) -> str:
        return "record_id"

    def settings_dict(self, dialect: str, link_type: str = "dedupe_only") -> dict[str, Any]:
        """Splink settings for ``dialect`` with this model's trained parameters."""
        comps: list[ComparisonCreator | dict[str, Any]] = [*self.comparisons()]
        rules: list[BlockingRuleCreator | dict[str, Any]] = [*self.prediction_rules()]
        creator = SettingsCreator(
            link_type=link_type,  # type: ignore[arg-type]
            comparisons=comps,
            blocking_rules_to_generate_predictions=rules,
            unique_id_column_name=self.unique_id(),
            retain_matching_columns=True,
            retain_intermediate_calculation_columns=False,
            em_convergence=0.001,
            max_iterations=20,
        )
        settings = creator.create_settings_dict(dialect)
        if self.splink is not None:
            _copy_parameters(self.splink, settings)
        return settings

    def to_json(self) -> dict[str, Any]:
        return {
            "popreg_model": {
                "format": FORMAT,
                "name": self.name,
                "version": self.version,
                "threshold": self.threshold,
                **self.meta,
            },
            "splink": self.splink,
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(
            json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )


def _copy_parameters(trained: dict[str, Any], settings: dict[str, Any]) -> None:
    """Copy λ and m/u per level from a trained Splink dict into freshly built settings."""
    settings["probability_two_random_records_match"] = trained.get(
        "probability_two_random_records_match", settings["probability_two_random_records_match"]
    )
    by_name = {c["output_column_name"]: c for c in trained.get("comparisons", [])}
    for comp in settings["comparisons"]:
        source = by_name.get(comp["output_column_name"])
        if source is None:
            raise ModelError(
                f"模型文件缺少比较项 {comp['output_column_name']}。\n"
                f"The model file has no comparison {comp['output_column_name']!r}."
            )
        src_levels = source["comparison_levels"]
        if len(src_levels) != len(comp["comparison_levels"]):
            raise ModelError(
                f"模型文件中比较项 {comp['output_column_name']} 的级别数与本版本不一致，请重新训练。\n"
                f"Comparison {comp['output_column_name']!r} in the model file has "
                f"{len(src_levels)} levels, this version has {len(comp['comparison_levels'])}: "
                "retrain the model."
            )
        for level, src in zip(comp["comparison_levels"], src_levels, strict=True):
            # Levels training could not observe keep the prior set in comparisons.py.
            for key in ("m_probability", "u_probability"):
                if src.get(key) is not None:
                    level[key] = src[key]


class ModelError(ValueError):
    """A model file that cannot be used (bilingual message)."""


def load_model(path: str | Path | None = None) -> LinkageModel:
    """Read a model file; ``None`` gives the default model shipped with popreg."""
    if path is None:
        text = (
            resources.files("popreg.linkage")
            .joinpath("models", DEFAULT_MODEL)
            .read_text(encoding="utf-8")
        )
        source = DEFAULT_MODEL
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelError(
                f"无法读取模型文件 {path}：{exc.strerror}。\nCannot read model file {path}: "
                f"{exc.strerror}."
            ) from exc
        source = str(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"模型文件 {source} 不是有效的 JSON：{exc}。\nModel file {source} is not valid JSON: {exc}."
        ) from exc
    if "popreg_model" in data:
        meta = dict(data["popreg_model"])
        if meta.get("format") != FORMAT:
            raise ModelError(
                f"模型文件 {source} 的格式版本 {meta.get('format')} 不受支持（需要 {FORMAT}）。\n"
                f"Model file {source} has format {meta.get('format')}, expected {FORMAT}."
            )
        return LinkageModel(
            name=meta.pop("name", "registry"),
            version=str(meta.pop("version", "1")),
            threshold=float(meta.pop("threshold", DEFAULT_THRESHOLD)),
            splink=data.get("splink"),
            meta={k: v for k, v in meta.items() if k != "format"},
        )
    if "comparisons" in data:  # a bare Splink model JSON with our comparison names
        return LinkageModel(splink=data)
    raise ModelError(
        f"{source} 不是 popreg 连接模型文件。\n{source} is not a popreg linkage model file."
    )


def deterministic_rules(model: LinkageModel) -> list[str]:
    """Rules that almost only hold for true matches (for estimating λ)."""
    if model.name == "generic":
        return ["l.id_number = r.id_number"]
    return [
        "l.id18 = r.id18",
        "l.name_norm = r.name_norm AND l.dob = r.dob AND l.village_code = r.village_code",
    ]


def estimate_prior(linker: Any, model: LinkageModel) -> None:
    """Re-estimate λ (probability that two random records match) on the data at hand.

    λ scales with 1/N, so a model trained on one county must not bring its λ to a file
    of another size; m and u carry over, λ does not.  Left unchanged when the rules find
    no pair (tiny inputs).
    """
    before = linker._settings_obj._probability_two_random_records_match
    try:
        linker.training.estimate_probability_two_random_records_match(
            deterministic_rules(model), recall=0.8
        )
    except Exception:  # noqa: BLE001 - Splink raises plain exceptions for "no matches"
        linker._settings_obj._probability_two_random_records_match = before
        return
    after = linker._settings_obj._probability_two_random_records_match
    if not after or after <= 0 or after >= 1:
        linker._settings_obj._probability_two_random_records_match = before


MIN_RECORDS_FOR_U = 2000
MIN_RECORDS_FOR_EM = 2000
# The prior model counts as this many duplicate pairs against the EM estimate on the data.
PRIOR_PAIRS = 200.0


def adapt_to_data(linker: Any, model: LinkageModel, n_records: int) -> None:
    """u and λ from the data at hand, m from the model.

    m (how often a true duplicate shows each kind of difference) is a property of how
    registers are kept and carries over; u (how often two different people agree by
    chance: how common names, birthdays and villages are) and λ depend on the county and
    on the size of the file, so they are re-estimated here (random sampling with a fixed
    seed; deterministic rules).  Inputs under ``MIN_RECORDS_FOR_U`` records keep the
    model's u.
    """
    if n_records >= MIN_RECORDS_FOR_U:
        linker.training.estimate_u_using_random_sampling(max_pairs=3e5, seed=SEED)
    estimate_prior(linker, model)


def estimate_on_data(linker: Any, model: LinkageModel, n_records: int) -> LinkageModel:
    """The default before scoring: the model estimated on the data being deduplicated,
    with ``model`` (the shipped one) as the prior.

    1. u and λ from the data (:func:`adapt_to_data`);
    2. m by expectation maximisation on the training blocks, started from the model's m;
    3. each m is the average of the EM estimate and the model's m, weighted by the
       expected number of duplicate pairs in the data (λ · N(N−1)/2) against
       ``PRIOR_PAIRS`` for the model: a file with few duplicates keeps the model's m, a
       file with many learns its own.  Fixed levels (the vetoes of two different valid
       ID numbers) stay fixed; a level EM could not observe keeps the model's m.

    Inputs under ``MIN_RECORDS_FOR_EM`` records (or when EM fails) keep the model's m.
    """
    adapt_to_data(linker, model, n_records)
    adapted = snapshot_model(
        linker, model, "m from model, u and λ from data", f"{n_records} records"
    )
    if n_records < MIN_RECORDS_FOR_EM or model.splink is None:
        return adapted
    try:
        for rule in model.training_rules():
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True
            )
    except Exception as exc:  # noqa: BLE001 - Splink raises plain exceptions (empty blocks)
        logger.info("EM on the data failed (%s): the model's m is kept", exc)
        return adapted
    estimated = snapshot_model(
        linker, model, "EM on the data, the model as prior", f"{n_records} records"
    )
    assert adapted.splink is not None
    return with_prior(estimated, adapted.splink, n_records)


def with_prior(estimated: LinkageModel, prior: dict[str, Any], n_records: int) -> LinkageModel:
    """``estimated`` with each m averaged with ``prior``'s (Splink settings), weighted by
    the expected duplicate pairs λ · N(N−1)/2 against ``PRIOR_PAIRS`` (see
    :func:`estimate_on_data`)."""
    assert estimated.splink is not None
    lam = float(estimated.splink.get("probability_two_random_records_match") or 0.0)
    expected = lam * n_records * (n_records - 1) / 2
    blend_m(prior, estimated.splink, expected / (expected + PRIOR_PAIRS))
    return estimated


def blend_m(prior: dict[str, Any], estimated: dict[str, Any], weight: float) -> None:
    """``estimated``'s m per level := weight · estimate + (1 − weight) · prior, in place
    (renormalised per comparison); fixed levels and levels without an estimate keep the prior."""
    by_name = {c["output_column_name"]: c for c in prior.get("comparisons", [])}
    for comp in estimated.get("comparisons", []):
        source = by_name.get(comp["output_column_name"])
        if source is None:
            continue
        levels = [lvl for lvl in comp["comparison_levels"] if not lvl.get("is_null_level")]
        priors = [lvl for lvl in source["comparison_levels"] if not lvl.get("is_null_level")]
        free = 0.0
        fixed = 0.0
        for level, before in zip(levels, priors, strict=True):
            m_prior = before.get("m_probability")
            m_est = level.get("m_probability")
            if level.get("fix_m_probability"):
                fixed += float(m_est if m_est is not None else m_prior or 0.0)
                continue
            if m_prior is None:
                value = m_est
            elif m_est is None:
                value = m_prior
            else:
                value = weight * float(m_est) + (1 - weight) * float(m_prior)
            floor = comparisons.M_FLOOR.get(
                (comp["output_column_name"], level.get("label_for_charts", ""))
            )
            if floor is not None and value is not None:
                value = max(float(value), floor)
            level["m_probability"] = value
            free += float(value or 0.0)
        if free > 0:
            scale = max(0.0, 1.0 - fixed) / free
            for level in levels:
                if not level.get("fix_m_probability") and level.get("m_probability") is not None:
                    level["m_probability"] = float(level["m_probability"]) * scale


def train_unsupervised(linker: Any, model: LinkageModel, *, max_pairs: float = 2e6) -> None:
    """Splink's estimation recipe without labels, with fixed seeds.

    1. λ from deterministic rules (same ID number; same name, date and village) with an
       assumed recall of 0.8;
    2. u by random sampling (``max_pairs`` pairs, fixed seed);
    3. m by expectation maximisation, once per training block (see
       :func:`popreg.linkage.blocking.training_rules`), u fixed.
    """
    linker.training.estimate_probability_two_random_records_match(
        deterministic_rules(model), recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=SEED)
    for rule in model.training_rules():
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )


def snapshot_model(linker: Any, model: LinkageModel, recipe: str, trained_on: str) -> LinkageModel:
    """A new :class:`LinkageModel` holding the linker's current parameters."""
    splink = copy.deepcopy(linker.misc.save_model_to_json(out_path=None))
    meta = dict(model.meta)
    meta.update(
        {
            "recipe": recipe,
            "trained_on": trained_on,
            "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    return LinkageModel(
        name=model.name, version=model.version, threshold=model.threshold, splink=splink, meta=meta
    )
