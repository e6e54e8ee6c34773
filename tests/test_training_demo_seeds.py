"""`uts demo` reports several seeds honestly: mean ± spread when more than one ran, a plain
statement when one did (and why), the speech back end used, classes per depth, and loss curves
whose scales never share an axis."""

import json
import statistics

import matplotlib.pyplot as plt
import pytest
from rich.console import Console

from _training_helpers import tiny_demo_recipe, tiny_ontology
from uts.training import report as report_module
from uts.training.demo import aggregate_seeds, run_demo


def test_two_seeds_give_mean_and_spread(tmp_path):
    out = tmp_path / "demo"
    report = run_demo(out, clips=16, recipe=tiny_demo_recipe(tmp_path), onto=tiny_ontology(),
                      console=Console(quiet=True), seeds=2)
    text = report.read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == [0, 1] and summary["seeds_note"] is None
    assert (out / "seeds" / "1" / "hier" / "model.safetensors").exists()
    # the table cell is the mean ± s.d. of the two seeds' own eval.json figures
    per_seed = [json.loads((d / "hier" / "eval" / "eval.json").read_text())["macro_map"]
                for d in (out, out / "seeds" / "1")]
    mean, sd = statistics.fmean(per_seed), statistics.stdev(per_seed)
    row = next(line for line in text.splitlines() if line.startswith("| macro mAP |"))
    assert f"{mean:.3f} ± {sd:.3f}" in row.split("|")[3]
    assert summary["mean_sd_over_seeds"]["hier"]["macro_map"][:2] == pytest.approx([mean, sd])
    assert "**2 training seeds** (0, 1" in text
    # the tiny ontology has no speech: the report says so rather than naming a back end
    assert "Speech back end: none" in text and summary["speech_backend"] == "none"


def test_one_seed_is_said_plainly_with_the_reason(tmp_path):
    out = tmp_path / "demo"
    report = run_demo(out, clips=16, recipe=tiny_demo_recipe(tmp_path), onto=tiny_ontology(),
                      console=Console(quiet=True), seeds=3, budget_min=0)
    text = report.read_text()
    assert "**One training seed ran** (0), so the table shows no spread (stopped after 1 of 3 seeds" in text
    assert "a larger `--budget-min`" in text
    assert "±" not in text.split("Definitions:")[0].split("| metric |")[1]
    assert json.loads((out / "summary.json").read_text())["seeds"] == [0]
    assert not (out / "seeds").exists()


def test_aggregate_seeds_means_metrics_keeps_counts():
    a = {"hier": {"macro_map": 0.5, "clips": 40, "map_per_level": {"1": 0.2}, "zero_shot": {"macro_map": 0.1}}}
    b = {"hier": {"macro_map": 0.7, "clips": 40, "map_per_level": {"1": 0.4}, "zero_shot": {"macro_map": 0.3}}}
    merged = aggregate_seeds([a, b])["hier"]
    assert merged["macro_map"] == pytest.approx(0.6) and merged["clips"] == 40
    assert merged["map_per_level"]["1"] == pytest.approx(0.3)
    assert merged["spread"]["zero_shot.macro_map"] == pytest.approx([0.2, statistics.stdev([0.1, 0.3]), 2])
    assert report_module._cell(merged, "zero_shot.macro_map") == "0.200 ± 0.141"
    assert aggregate_seeds([a])["hier"]["spread"]["macro_map"] == [0.5, None, 1]
    assert report_module._cell(aggregate_seeds([a])["hier"], "macro_map") == "0.500"


def _capture_figures(monkeypatch) -> list:
    figures = []
    real_close = plt.close
    monkeypatch.setattr(report_module.plt, "close", lambda fig=None: figures.append(fig) or real_close(fig))
    return figures


def test_each_run_loss_gets_its_own_axes(tmp_path, monkeypatch):
    runs = {}
    for name, scale in (("flat", 0.4), ("hier+contrastive", 3.0)):
        csv = tmp_path / f"{name}.csv"
        csv.write_text("step,epoch,split,loss,macro_map\n" + "".join(
            f"{s},0,train,{scale / (1 + s)},\n" for s in range(0, 10, 2)) + f"9,0,val,{scale / 20},0.4\n")
        runs[name] = csv
    figures = _capture_figures(monkeypatch)
    assert report_module.training_curves(None, tmp_path / "c.png", runs=runs) == tmp_path / "c.png"
    [fig] = figures
    loss_axes = [ax for ax in fig.axes if "loss" in ax.get_ylabel()]
    # flat train, flat val, contrastive train, contrastive val: four axes, one curve each
    assert sorted(ax.get_ylabel() for ax in loss_axes) == ["training loss", "training loss",
                                                            "validation loss", "validation loss"]
    assert all(len(ax.lines) == 1 for ax in loss_axes)  # no axis holds two losses
    [map_ax] = [ax for ax in fig.axes if ax.get_ylabel() == "macro mAP"]
    assert len(map_ax.lines) == 2  # mAP shares one 0-1 scale
    titles = [ax.get_title() for ax in fig.axes]
    assert "flat loss" in titles and "hier+contrastive loss" in titles and "validation mAP" in titles


def test_per_level_plot_names_classes_per_depth(tmp_path, monkeypatch):
    figures = _capture_figures(monkeypatch)
    result = {"map_per_level": {"0": 0.9, "1": 0.5, "2": 0.4}, "classes_per_level": {"0": 2, "1": 7, "2": 1}}
    report_module.per_level_plot({"hier": result}, tmp_path / "p.png")
    [fig] = figures
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["0\n2 classes", "1\n7 classes", "2\n1 class"]
