"""The runner: variants of a scenario simulated on an executor, their outcomes written as results.

    from regsim.runner import run_scenario
    run = run_scenario(scenario, jobs=4)             # local processes
    run = run_scenario(scenario, dask="local")       # a Dask LocalCluster (or "tcp://scheduler:8786")
"""

from .pools import DaskExecutor, Executor, ExecutorError, LocalExecutor, make_executor
from .interrupt import Interrupted, RunInterrupted
from .progress import NullReporter, Reporter, RichReporter, reporter_for
from .run import RunResult, plan, run_scenario
from .variant import VariantTask, execute_variant

__all__ = [
    "DaskExecutor",
    "Executor",
    "ExecutorError",
    "Interrupted",
    "LocalExecutor",
    "NullReporter",
    "Reporter",
    "RichReporter",
    "RunInterrupted",
    "RunResult",
    "VariantTask",
    "execute_variant",
    "make_executor",
    "plan",
    "reporter_for",
    "run_scenario",
]
