"""The network model against SimGrid 4.1, on tiny platforms and (where SimGrid is installed) big ones.

``tools/simgrid/examples`` holds tiny platforms and ``simgrid_results.json`` the finish times
SimGrid 4.1 gave for them (``tools/simgrid/run_simgrid.py``; LV08, CM02 and plain fluid max-min).
regsim's matching sharing model must give the same times: a lone flow's 0.97 goodput and
13.01 latency factor, two flows sharing, latency weighting, acknowledgements on the reverse
path, a link carrying both directions. The big platforms of ``tools/simgrid/crosscheck.py`` run
only where a SimGrid interpreter is available (``REGSIM_SIMGRID_PYTHON``, or the one BUILD.md
builds).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools" / "simgrid"
sys.path.insert(0, str(TOOLS))

from explicit_platform import run_regsim  # noqa: E402

EXAMPLES = TOOLS / "examples"
SIMGRID = json.loads((EXAMPLES / "simgrid_results.json").read_text())
#: SimGrid gives a route of zero latency weight 1 rather than 1 / (weight_S / bandwidth): a
#: special case of its code (LV08.md), not of the model, which regsim does not copy
QUIRKS = {"zero_latency_lv08", "zero_latency_cm02"}


@pytest.mark.parametrize("case", sorted(set(SIMGRID) - QUIRKS))
def test_regsim_gives_simgrid_s_finish_times_on_the_tiny_platforms(case):
    doc = json.loads((EXAMPLES / f"{case}.json").read_text())
    got = run_regsim(doc)
    assert {str(k): v for k, v in got.items()} == pytest.approx(SIMGRID[case], rel=1e-9)


#: loads libsimgrid from beside the bindings (where BUILD.md's build puts it), then imports them
PROBE = ("import ctypes, glob, sysconfig; "
         "[ctypes.CDLL(p, mode=ctypes.RTLD_GLOBAL) for p in glob.glob(sysconfig.get_paths()['purelib'] + '/libsimgrid.so*')[:1]]; "
         "import simgrid")


def _simgrid_python() -> str | None:
    candidates = [os.environ.get("REGSIM_SIMGRID_PYTHON"), "/work/simgrid-venv/bin/python", sys.executable]
    for python in filter(None, candidates):
        if Path(python).exists() and subprocess.run([python, "-c", PROBE], capture_output=True).returncode == 0:
            return python
    return None


@pytest.mark.slow
def test_every_flow_is_within_5_percent_of_simgrid_lv08_on_the_three_platforms(tmp_path):
    python = _simgrid_python()
    if python is None:
        pytest.skip("SimGrid's Python bindings are not installed (tools/simgrid/BUILD.md)")
    from crosscheck import main

    out = tmp_path / "simgrid.json"
    assert main(["--simgrid-python", python, "--scale", "0.1", "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    for name, platform in summary["platforms"].items():
        assert platform["models"]["lv08"]["max"] <= 0.05, name
