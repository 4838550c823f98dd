"""One error root: every error class regsim defines derives from RegsimError, and bad input from UserError.

The command line has one handler, for :class:`~regsim.errors.UserError` (one line, exit code 2),
so a class of bad input that does not derive from it would surface as a traceback, and an
internal error that did would hide a bug as the user's mistake. The classes are found by walking
the package, so a new error class is checked without being listed here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import regsim
from regsim.errors import RegsimError, UserError


def _defined_error_classes() -> dict[str, type[Exception]]:
    """Every Exception subclass defined at the top level of a regsim module, by dotted name."""
    found: dict[str, type[Exception]] = {}
    for info in pkgutil.walk_packages(regsim.__path__, "regsim."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == info.name:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


@pytest.fixture(scope="module")
def classes() -> dict[str, type[Exception]]:
    return _defined_error_classes()


#: bad input from the user, with the other base code relies on (pydantic turns a ValueError raised
#: in a validator into a validation error; ``except ValueError`` / ``except LookupError`` callers).
USER_ERRORS = {
    "regsim.scenario.ScenarioError": ValueError,
    "regsim.scenario.paths.PathError": ValueError,
    "regsim.units.UnitError": ValueError,
    "regsim.spec.image_source.ImageSourceError": ValueError,
    "regsim.sim.profile.ProfileError": ValueError,
    "regsim.results.ResultsError": ValueError,
    "regsim.check.BaselineError": ValueError,
    "regsim.check.CheckError": ValueError,
    "regsim.traces.TraceError": ValueError,
    "regsim.runner.ExecutorError": ValueError,
    "regsim.models.ModelError": LookupError,
    "regsim.registry.errors.ConfigError": Exception,
    "regsim.registry.oci_layout.LayoutError": Exception,
}

#: errors that are not the user's doing: raised to a caller that handles them, or a bug if they escape.
NOT_USER_ERRORS = {
    "regsim.registry.errors.RegistryError": Exception,
    "regsim.registry.errors.DataLoss": Exception,
    "regsim.registry.errors.IntegrityError": Exception,
    "regsim.registry.errors.DigestInvalid": Exception,
    "regsim.sim.disk.DiskFailed": RuntimeError,
    "regsim.sim.database.DatabaseDown": RuntimeError,
    "regsim.sim.topology.TopologyError": ValueError,
    "regsim.sim.receipt_executor.UnroutableItem": LookupError,
    "regsim.models.requests.access.NetworkFailure": Exception,
    "regsim.server.blobs.RangeNotSatisfiable": Exception,
}


def _named(dotted: str) -> type[Exception]:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_the_walk_finds_the_error_classes(classes):
    assert len(classes) > 40
    assert {"regsim.units.UnitError", "regsim.registry.errors.BlobUnknown", "regsim.sim.disk.DiskFailed"} <= set(classes)


def test_every_error_class_derives_from_regsim_error(classes):
    outside = {name: [base.__name__ for base in cls.__mro__[1:]] for name, cls in classes.items()
               if not issubclass(cls, RegsimError)}
    assert outside == {}


def test_a_real_data_plane_too_large_is_bad_input(classes):
    assert issubclass(classes["regsim.models.core.work.DataPlaneTooLarge"], UserError)


@pytest.mark.parametrize("name", sorted(USER_ERRORS))
def test_bad_input_derives_from_user_error_and_keeps_its_other_base(name):
    cls = _named(name)
    assert issubclass(cls, UserError)
    assert issubclass(cls, USER_ERRORS[name])


@pytest.mark.parametrize("name", sorted(NOT_USER_ERRORS))
def test_internal_errors_are_not_user_errors(name):
    cls = _named(name)
    assert issubclass(cls, RegsimError) and not issubclass(cls, UserError)
    assert issubclass(cls, NOT_USER_ERRORS[name])


def test_user_error_is_one_class_everywhere():
    from regsim import cli
    from regsim.registry import errors

    assert cli.UserError is errors.UserError is UserError
    assert issubclass(UserError, RegsimError)


def test_a_unit_error_still_becomes_a_validation_problem():
    """pydantic turns a ValueError raised in a validator into a validation error; UnitError still is one."""
    from regsim.scenario import ScenarioError, scenario_from_dict

    with pytest.raises(ScenarioError, match=r"registry\.egress: .*ambiguous rate unit"):
        scenario_from_dict({"name": "x", "registry": {"egress": "10GBPS"}}, source="s.yaml")
