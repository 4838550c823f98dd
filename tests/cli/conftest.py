import pytest

from tests.results.fakes import fake_model, use_model


@pytest.fixture
def fake_rollout(monkeypatch):
    """The fake model registered for rollouts during one test."""
    use_model(monkeypatch, fake_model)
    return fake_model


@pytest.fixture
def scenario_file(tmp_path):
    """A two-variant scenario file."""
    path = tmp_path / "scenarios" / "fake.yaml"
    path.parent.mkdir()
    path.write_text("name: fake\ndescription: a fake sweep\nseed: 3\ncluster: {nodes: 20}\n"
                    "image: {layers: [10MB]}\nsweep:\n  cluster.nodes: [10, 20]\n", encoding="utf-8")
    return path
