"""`sigmoidnet report`: the figures' values checked against independent computations
(`eval`'s torchmetrics figures), the page self-contained, one label and a hundred, and a
real browser's rendering (slow)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sigmoidnet import artifact
from tests.cli.util import invoke

pytest.importorskip("matplotlib")
ROOT = Path(__file__).resolve().parents[1]


def trained(cfg: Path, out: Path, *sets: str) -> Path:
    args = [x for s in sets for x in ("--set", s)]
    code, _, err = invoke("train", "--config", str(cfg), "--out", str(out), "-q", *args)
    assert code == 0, err
    return (out / "latest").resolve()


def values(run: Path, stem: str) -> dict:  # type: ignore[type-arg]
    return json.loads((run / "plots" / f"{stem}.json").read_text())


@pytest.fixture(scope="module")
def penguins_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    run = trained(
        ROOT / "configs" / "penguins.yaml", out, "decision.threshold=f1",
        "decision.calibration=platt", "train.epochs=30",
    )  # fmt: skip
    code, _, err = invoke("report", "--run", str(run))
    assert code == 0, err
    assert f"report: {run}/report.html (6 figures" in err
    return run


def test_the_figures_hold_the_numbers_eval_gives(penguins_run: Path) -> None:
    run = penguins_run
    art = artifact.load(run / "model.safetensors")
    code, report, err = invoke("eval", "--run", str(run), "--json")
    assert code == 0, err
    ev = json.loads(report)
    (lab,) = ev["labels"]
    assert values(run, "roc")["sex"]["auc"] == pytest.approx(lab["roc_auc"], abs=1e-6)
    cm = values(run, "confusion")["sex"]
    n = cm["tn"] + cm["fp"] + cm["fn"] + cm["tp"]
    assert n == lab["n_rows"] == ev["n_rows"]
    assert cm["threshold"] == art.thresholds[0]
    assert (cm["tp"] + cm["tn"]) / n == pytest.approx(lab["accuracy"])
    assert cm["tp"] / (cm["tp"] + cm["fp"]) == pytest.approx(lab["precision"])
    assert cm["tp"] / (cm["tp"] + cm["fn"]) == pytest.approx(lab["recall"])
    rel = values(run, "reliability")["sex"]
    assert sum(rel["before"]["count"]) == n == sum(rel["after"]["count"])
    (cal,) = ev["calibration"]["labels"]
    assert rel["before"]["ece"] == pytest.approx(cal["ece_before"], abs=1e-6)
    assert rel["after"]["ece"] == pytest.approx(cal["ece_after"], abs=1e-6)
    tc = values(run, "threshold")["sex"]
    assert tc["chosen"] == art.thresholds[0]
    i = int(np.argmax(tc["f1"]))  # the f1 rule's threshold is the curve's best F1
    assert max(tc["f1"]) == tc["f1"][tc["thresholds"].index(art.thresholds[0])]
    assert tc["f1"][i] == pytest.approx(lab["f1"])
    curves = values(run, "curves")
    assert curves["epoch"] == list(range(1, 31)) and len(curves["val_loss"]) == 30


def test_the_page_is_self_contained(penguins_run: Path) -> None:
    page = (penguins_run / "report.html").read_text()
    pngs = sorted((penguins_run / "plots").glob("*.png"))
    assert len(pngs) == 6 and page.count('src="data:image/png;base64,') == 6
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from elsewhere
    for needle in ("f1 on 67 validation rows", "platt", "species", "3 categories", "decision:"):
        assert needle in page, needle


def test_without_validation_rows_only_the_curves(learnable_config: Path, tmp_path: Path) -> None:
    run = trained(learnable_config, tmp_path / "r", "data.val_fraction=0.0", "train.epochs=2")
    code, _, err = invoke("report", "--run", str(run))
    assert code == 0, err
    assert "no held-out rows" in err
    assert sorted(p.name for p in (run / "plots").glob("*.png")) == ["curves.png"]


def test_without_matplotlib_it_says_what_to_install(
    learnable_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = trained(learnable_config, tmp_path / "r", "train.epochs=1")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = invoke("report", "--run", str(run))
    assert code == 2 and err.count("\n") == 1 and "pip install 'sigmoidnet[report]'" in err
    assert not (run / "report.html").exists()


@pytest.mark.slow
def test_a_hundred_labels_in_pages(tmp_path: Path) -> None:
    cfg = tmp_path / "many.yaml"
    cfg.write_text(
        "data: {source: random, n_samples: 400, n_features: 8, n_labels: 100, "
        "val_fraction: 0.25}\nmodel: {hidden_sizes: [16]}\ntrain: {epochs: 2}\n"
    )
    run = trained(cfg, tmp_path / "r")
    code, _, err = invoke("report", "--run", str(run))
    assert code == 0, err
    names = sorted(p.name for p in (run / "plots").glob("roc*.png"))
    assert names == sorted(f"roc-{k}.png" for k in range(1, 10))  # 12 labels a page
    assert sum(len(values(run, f"confusion-{k}")) for k in range(1, 10)) == 100


@pytest.mark.slow
def test_it_renders_in_a_real_browser(penguins_run: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium here (.ci/run installs Debian's chromium)")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1200,2400", f"--screenshot={shot}",
         (penguins_run / "report.html").as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    import matplotlib.image

    img = matplotlib.image.imread(str(shot))
    assert img.shape[0] >= 2000 and img.shape[1] >= 1000
    gray = img[..., :3].mean(axis=2)
    # not blank: dark text and lines, white page, and the figures' colours in between
    assert gray.min() < 0.2 and gray.max() > 0.95 and gray.std() > 0.05
    assert (np.abs(img[..., 0] - img[..., 2]) > 0.2).mean() > 0.001  # coloured curves


def test_a_run_folder_that_cannot_be_written_is_one_line(penguins_run: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    plots = penguins_run / "plots"
    plots.chmod(0o500)
    try:
        code, _, err = invoke("report", "--run", str(penguins_run))
        assert code == 2 and err == f"error: {plots}: cannot write the report: Permission denied\n"
    finally:
        plots.chmod(0o700)
