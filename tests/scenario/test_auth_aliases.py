"""``registry.auth.mode`` takes the server's spellings too, and always resolves to jwt or db."""

from __future__ import annotations

from typing import get_args

import pytest

from regsim.registry.auth import AUTH_MODES
from regsim.scenario import ScenarioError, load_scenario, resolved, scenario_from_dict
from regsim.spec.infra import Auth

from .test_schema import DATA


@pytest.mark.parametrize("written, canonical", [("token", "jwt"), ("database", "db"), ("jwt", "jwt"),
                                                ("db", "db"), ("none", "none")])
def test_the_resolved_scenario_shows_the_canonical_name(written, canonical):
    s = scenario_from_dict({"name": "x", "registry": {"auth": {"mode": written}}})
    assert s.registry.auth.mode == canonical
    assert resolved(s)["registry"]["auth"]["mode"] == canonical


def test_an_override_may_use_an_alias():
    assert load_scenario(DATA / "minimal.yaml", ["registry.auth.mode=database"]).registry.auth.mode == "db"


def test_the_schema_speaks_the_registry_vocabulary():
    literal = get_args(Auth.model_fields["mode"].annotation)
    assert literal == AUTH_MODES


def test_an_unknown_mode_names_the_canonical_ones():
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict({"name": "x", "registry": {"auth": {"mode": "kerberos"}}}, "s.yaml")
    assert "s.yaml: registry.auth.mode: expected 'none', 'jwt' or 'db' (got 'kerberos')" in str(err.value)
