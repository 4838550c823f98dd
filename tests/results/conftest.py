import shutil

import pytest

from regsim.runner import run_scenario

from .fakes import fake_model, flaky_model, scenario, sweep_scenario


@pytest.fixture(scope="session")
def _finished_run(tmp_path_factory):
    return run_scenario(sweep_scenario(), out=tmp_path_factory.mktemp("runs") / "run", model=fake_model).folder


@pytest.fixture
def run_dir(_finished_run, tmp_path):
    """A copy of a finished four-variant run of the fake model, with plots (each test may change it)."""
    return shutil.copytree(_finished_run, tmp_path / "run")


@pytest.fixture
def failed_run_dir(tmp_path):
    """A run where one variant's model raised and two variants' values were invalid."""
    s = scenario(registry={"storage": {"nodes": 3}},
                 sweep={"cluster.nodes": [10, 13], "registry.storage.codec": ["replicate(3)", "rs(4,2)"]})
    return run_scenario(s, out=tmp_path / "failed", model=flaky_model, plots=False).folder
