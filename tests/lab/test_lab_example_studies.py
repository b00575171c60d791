"""The study files shipped in examples/studies are valid definitions."""

from pathlib import Path

import pytest

from ravine.lab.study import load_config, study_from_dict

STUDIES = sorted((Path(__file__).resolve().parents[2] / "examples" / "studies").glob("*.toml"))


def test_there_are_example_studies():
    assert STUDIES


@pytest.mark.parametrize("path", STUDIES, ids=[p.stem for p in STUDIES])
def test_example_study_is_valid(path):
    study = study_from_dict(load_config(str(path)))
    assert study.problems and study.optimizers
