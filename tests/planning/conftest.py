"""A small synthetic county for the planning tests (generated once per run)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_county(tmp_path_factory):
    """20,000 registered people, the default reference moment 2025-11-01."""
    from popreg.synth.generator import generate

    out = tmp_path_factory.mktemp("planning-county")
    generate(out, seed=13, persons=20_000, progress=None)
    return out
