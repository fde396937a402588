"""Projection scenarios as data (a leaf: the forecast and the models both use it)."""

from __future__ import annotations

from dataclasses import dataclass

from popreg.planning.events import PlanningDataError


@dataclass(frozen=True)
class ScenarioSpec:
    """One scenario as data.  ``tfr_target`` (absolute) wins over ``tfr_offset`` (added to
    the estimated TFR); both are reached after ``path_years`` years, linearly."""

    code: str
    name_zh: str
    name_en: str
    tfr_offset: float = 0.0
    tfr_target: float | None = None
    path_years: int = 5
    e0_gain_per_year: float = 0.0
    migration_factor: float = 1.0

    def tfr_path(self, tfr0: float, years: int) -> list[float]:
        target = self.tfr_target if self.tfr_target is not None else tfr0 + self.tfr_offset
        target = max(target, 0.0)
        span = max(self.path_years, 1)
        return [tfr0 + (target - tfr0) * min(1.0, (t + 1) / span) for t in range(years)]

    def e0_path(self, e0: float, years: int) -> list[float]:
        return [e0 + self.e0_gain_per_year * (t + 1) for t in range(years)]


#: The scenarios the data migration seeds (and the fallback when the table is empty).
DEFAULT_SCENARIOS: tuple[ScenarioSpec, ...] = (
    ScenarioSpec("low", "低方案", "low", tfr_offset=-0.3, path_years=5, e0_gain_per_year=0.15,
                 migration_factor=0.5),
    ScenarioSpec("medium", "中方案", "medium", tfr_offset=0.0, path_years=5, e0_gain_per_year=0.2,
                 migration_factor=1.0),
    ScenarioSpec("high", "高方案", "high", tfr_offset=0.3, path_years=5, e0_gain_per_year=0.25,
                 migration_factor=1.5),
    ScenarioSpec("constant", "不变方案", "constant", tfr_offset=0.0, path_years=1, e0_gain_per_year=0.0,
                 migration_factor=1.0),
)  # fmt: skip


def default_scenario(code: str) -> ScenarioSpec:
    for s in DEFAULT_SCENARIOS:
        if s.code == code:
            return s
    raise PlanningDataError(
        f"没有方案 {code} / no scenario {code}: choose low, medium, high or constant"
    )
