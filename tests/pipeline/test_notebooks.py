"""The shipped notebooks execute top to bottom on a fresh demo build.

One small demo build (through the real CLI and a local Ray) and a benchmark output built
in-process over it (a few NIAH samples, no Ray) serve both notebooks. Each runs in a
kernel on this interpreter (the project's .venv), never a system Python that a stray
kernelspec might name. Slow (a Ray run and video work), so marked; CI still runs it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support.demo import demo_run_args
from support.niah import build_rows, small_config

from longvid_pipeline.cli import main
from longvid_pipeline.shards import commit_rows

pytestmark = pytest.mark.slow
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(demo OUT with one video, NIAH OUT with a 2-hop and a single-hop sample)."""
    root = tmp_path_factory.mktemp("notebooks")
    out, niah_out = root / "demo", root / "niah"
    assert main(demo_run_args(out, "source.demo.videos=1")) == 0
    one_cell = {"depths": [50], "samples_per_cell": 1}
    config = small_config(
        multi_hop={"lengths": [24], "hops": [2], **one_cell},
        single_hop={"lengths": [20], **one_cell},
    )
    rows = build_rows(out, config)
    assert sorted((row["benchmark"], row["hops"]) for row in rows) == [
        ("mh_niah", 2),
        ("v_niah", 0),
    ]
    commit_rows(niah_out, {"niah": rows}, input_ids=[row["input_id"] for row in rows])
    return out, niah_out


def _kernel_on_this_python(folder: Path) -> Path:
    """A `python3` kernelspec running this interpreter, for JUPYTER_PATH to put first."""
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "longvid .venv", "language": "python"})
    )
    return folder


@pytest.mark.parametrize("name", ["explore_shards", "qa_and_needles"])
def test_notebook_runs_on_a_fresh_demo_build(
    name: str, built: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    out, niah_out = built
    monkeypatch.setenv("JUPYTER_PATH", str(_kernel_on_this_python(tmp_path / "jupyter")))
    monkeypatch.setenv("LONGVID_OUT", str(out))
    monkeypatch.setenv("LONGVID_NIAH_OUT", str(niah_out))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # a cell that raises fails here, naming the cell
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    if name == "qa_and_needles":
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        assert len(images) >= 2  # the questions over their frames, the needles
