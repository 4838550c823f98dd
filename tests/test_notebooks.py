"""Every notebook under notebooks/ runs top to bottom (so none can rot), and none is committed with outputs.

Notebooks run with nbclient on a kernel of this interpreter (the project's venv), from the
notebooks/ folder, as a person opening them would. nbclient, nbformat and ipykernel are dev
dependencies; without them the run is skipped with that reason, and the output check reads the
files as plain JSON. Strip outputs before committing with :func:`strip_outputs`:
``python -c "from tests.test_notebooks import strip_outputs; strip_outputs()"``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


STRIP = 'python -c "from tests.test_notebooks import strip_outputs; strip_outputs()"'


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def strip_outputs(paths: list[Path] | None = None) -> list[Path]:
    """Clear outputs and execution counts of every code cell, in place; returns the files changed."""
    changed = []
    for path in paths if paths is not None else notebooks():
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
        clean = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        if clean != text:
            path.write_text(clean, encoding="utf-8")
            changed.append(path)
    return changed


def test_there_is_a_getting_started_notebook():
    assert (NOTEBOOKS / "getting-started.ipynb") in notebooks()


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_committed_notebooks_carry_no_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [i for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts; strip them with `{STRIP}`"


def test_strip_outputs_clears_an_executed_notebook(tmp_path):
    source = NOTEBOOKS / "getting-started.ipynb"
    nb = json.loads(source.read_text(encoding="utf-8"))
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"], code["execution_count"] = [{"output_type": "stream", "name": "stdout", "text": "hi"}], 3
    dirty = tmp_path / "dirty.ipynb"
    dirty.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    assert strip_outputs([dirty]) == [dirty] and strip_outputs([dirty]) == []
    assert json.loads(dirty.read_text(encoding="utf-8")) == json.loads(source.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_notebook_runs(path):
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (a dev dependency: "
                                                      "pip install nbclient nbformat ipykernel)")
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (a dev dependency)")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (a dev dependency)")
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name=NATIVE_KERNEL_NAME,
                                     resources={"metadata": {"path": str(path.parent)}})
    client.km = client.create_kernel_manager()
    command = client.km.format_kernel_cmd()
    assert command[0] == sys.executable, f"the kernel would run {command[0]}, not this interpreter {sys.executable}"
    client.execute()
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors
    images = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
              if "image/png" in o.get("data", {})]
    assert images, f"{path.name} drew no plot"
