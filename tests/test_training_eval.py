"""uts eval: truth column, metrics, probe, report files, and clear failures."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from _training_helpers import tiny_corpus, tiny_overrides, tiny_ontology, write_ontology
from uts.inputs import StrictError
from uts.training.config import load_config
from uts.training.evaluate import EvalError, domain_targets, evaluate, load_run
from uts.training.trainer import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    onto = write_ontology(tmp)
    manifest = tiny_corpus(tmp, n=16)
    test = tiny_corpus(tmp, n=12, seed=5, name="test")
    runs = {}
    for name in ("flat", "hier"):
        runs[name] = train(load_config(None, tiny_overrides(tmp, manifest, tmp / name, onto, **{
            "objective.name": name, "optim.epochs": 1})))
    return tmp, runs, test


def test_eval_scores_against_complete_labels_and_writes_report(trained):
    tmp, runs, test = trained
    res = evaluate(runs["hier"], test, tmp / "out")
    assert res["truth_column"] == "labels_complete" and res["clips"] == 12
    assert res["violation_rate"] == 0.0 and res["inconsistent_clip_rate"] == 0.0
    for key in ("macro_map", "micro_map", "parent_map", "leaf_map", "hierarchical_f1"):
        assert 0.0 < res[key] <= 1.0, key  # a number, not NaN
    assert res["mistake_severity"] >= 0 and set(res["map_per_level"]) >= {"0", "1"}
    assert res["probe"]["task"] == "domain" and set(res["probe"]["targets"]) <= {"music", "sound"}
    assert json.loads((tmp / "out" / "eval.json").read_text())["macro_map"] == res["macro_map"]
    report = (tmp / "out" / "report.md").read_text()
    assert "hier. F1" in report and (tmp / "out" / "per_level.png").exists()


def test_flat_scores_are_raw_sigmoids(trained):
    _, runs, _ = trained
    run = load_run(runs["flat"])
    logits = torch.tensor([[5.0] + [-5.0] * (len(run.labels) - 1)])
    assert torch.allclose(run.objective.scores(logits), torch.sigmoid(logits))


def test_domain_targets_from_ontology_when_no_column(trained):
    import polars as pl
    onto = tiny_ontology()
    df = pl.DataFrame({"labels": [["UTS:0000010"], ["UTS:0000022", "UTS:0000003"]]})
    assert domain_targets(df, onto).tolist() == [[0, 1, 0], [0, 1, 1]]


def test_eval_failures_are_clear(trained, tmp_path):
    tmp, runs, test = trained
    with pytest.raises(EvalError, match="not a training run"):
        evaluate(tmp_path, test)
    # weights of another shape
    bad = tmp_path / "run"
    bad.mkdir()
    (bad / "config.json").write_text((runs["hier"] / "config.json").read_text())
    w = load_file(runs["hier"] / "model.safetensors")
    w["head.weight"] = torch.zeros(3, 3)
    save_file(w, str(bad / "model.safetensors"))
    with pytest.raises(EvalError, match="does not match the model"):
        load_run(bad)
    with pytest.raises(EvalError, match="no weights"):
        load_run(bad, weights=bad / "missing.safetensors")


def test_eval_counts_skipped_clips_and_strict_refuses(trained, tmp_path):
    tmp, runs, test = trained
    lines = test.read_text().splitlines()
    ghost = json.loads(lines[0])
    ghost.update(id="ghost", audio_path=str(tmp_path / "gone.wav"))
    manifest = test.parent / "with_missing.jsonl"  # beside the clips: their paths are relative
    manifest.write_text("\n".join(lines + [json.dumps(ghost)]) + "\n")
    res = evaluate(runs["hier"], manifest, tmp_path / "out")
    assert res["data"]["entries"] == 13 and res["data"]["evaluated"] == 12 and res["data"]["skipped"] == 1
    assert res["data"]["reasons"] == {"missing_file": 1}
    assert json.loads((tmp_path / "out" / "eval.json").read_text())["data"]["skipped"] == 1
    assert "Evaluated 12 of 13 clips; skipped 1 (missing_file: 1)." in (tmp_path / "out" / "report.md").read_text()
    with pytest.raises(StrictError, match=r"with_missing.jsonl: skipped 1 of 13 .*--strict"):
        evaluate(runs["hier"], manifest, tmp_path / "strict", strict=True)
    assert not (tmp_path / "strict").exists()  # refused before anything is written


def test_labels_that_are_no_uts_id_and_probe_skips_are_said(trained, tmp_path):
    """eval said "skipped 0" while a clip's labels (no UTS ids) were dropped from its truth, its
    --strict let them pass (train's refused), and the probe's training skips were silent."""
    tmp, runs, test = trained
    rows = [json.loads(line) for line in test.read_text().splitlines()]
    rows[0]["labels"] = ["UTS:9999999", "dog"]
    manifest = test.parent / "odd_labels.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ghost = dict(rows[1], id="ghost", audio_path=str(tmp_path / "gone.wav"))
    probe_train = test.parent / "probe_with_missing.jsonl"
    probe_train.write_text("".join(json.dumps(r) + "\n" for r in rows[1:] + [ghost]))
    res = evaluate(runs["hier"], manifest, tmp_path / "out", probe_manifest=probe_train)
    assert res["data"]["labels_without_concept"] == 2
    report = (tmp_path / "out" / "report.md").read_text()
    assert "2 labels are no UTS id and were left out of the truth (e.g. " in report
    assert res["probe"]["data"]["skipped"] == 1
    assert f"Linear probe trained on {len(rows) - 1} of {len(rows)} clips; skipped 1 (missing_file: 1)." in report
    with pytest.raises(StrictError, match=r"odd_labels.jsonl: .*label that is no UTS id: 2"):
        evaluate(runs["hier"], manifest, tmp_path / "strict", strict=True)
    with pytest.raises(StrictError, match=r"probe_with_missing.jsonl: skipped 1 of"):
        evaluate(runs["hier"], test, tmp_path / "strict", probe_manifest=probe_train, strict=True)


def test_a_test_set_without_labels_is_refused_not_scored_nan(trained, tmp_path):
    tmp, runs, test = trained
    rows = [dict(json.loads(line), labels=[], labels_complete=[]) for line in test.read_text().splitlines()]
    manifest = test.parent / "unlabelled.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(EvalError, match=r"unlabelled.jsonl: no clip has a label of the run's label space"):
        evaluate(runs["hier"], manifest, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_model_file_that_is_not_safetensors_is_named(trained, tmp_path):
    tmp, runs, _ = trained
    bad = tmp_path / "run"
    bad.mkdir()
    (bad / "config.json").write_text((runs["hier"] / "config.json").read_text())
    (bad / "model.safetensors").write_bytes(b"PK\x03\x04 this is a zip, not safetensors" * 4)
    with pytest.raises(EvalError, match=r"model.safetensors.*not a safetensors file"):
        load_run(bad)
