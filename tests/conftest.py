"""Shared fixtures: paths of the FR-NAS reference data copied into tests/data/frnas."""

from __future__ import annotations

from pathlib import Path

import pytest

FRNAS = Path(__file__).parent / "data" / "frnas"


@pytest.fixture(scope="session")
def frnas_dir() -> Path:
    return FRNAS


@pytest.fixture(scope="session")
def celeba_val_meta() -> Path:
    return FRNAS / "celeba" / "val_identities_gender-expression_seed_222.csv"
