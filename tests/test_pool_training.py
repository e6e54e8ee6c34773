"""Pooled data end to end: `uts map apply` records the label space, `uts pool` writes a manifest
that `uts train` reads, the objectives mask outside each clip's space, `uts eval` scores each
source on its own space; plus the masked objectives and weighted draws on hand-made cases."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest
import torch
from typer.testing import CliRunner

from _mapping_helpers import ANIMAL, DOG, SNARE, mini_target
from _training_helpers import tiny_corpus, tiny_ontology, tiny_overrides, uid, write_ontology
from uts.cli.main import app
from uts.mapping.apply import apply_file
from uts.mapping.sssom import EXACT, LEXICAL, Mapping, MappingSet, default_metadata
from uts.pool import read_sources, sources_path
from uts.training.data import DurationBatchSampler
from uts.training.hierarchy import Hierarchy
from uts.training.objectives import Objective

MUSIC_IDS = {uid(n) for n in range(1, 12)}


# -- map apply records the label space -------------------------------------------------------
def test_apply_records_the_sources_label_space(tmp_path):
    mapping = MappingSet([Mapping("x:dog", EXACT, DOG, LEXICAL, subject_label="dog"),
                          Mapping("x:snare", EXACT, SNARE, LEXICAL, subject_label="snare")],
                         default_metadata("https://x.org/m"))
    table = tmp_path / "clips.csv"
    table.write_text('id,tags\na,dog\nb,"dog,kazoo"\nc,kazoo\n')
    out = tmp_path / "clips.jsonl"
    rep = apply_file(table, mapping, mini_target(), out)
    side = read_sources(out)
    (src,) = side.sources
    # mapped: the labels its clips use (snare never occurs); annotated: dog, and animal, whose
    # only child dog is (its whole branch); not sound, whose child rain is not
    assert (src.id, src.clips, src.mapped, src.annotated) == ("clips", 3, [DOG], sorted([ANIMAL, DOG]))
    assert rep.source == {"id": "clips", "mapped": 1, "annotated": 2}
    assert "source" not in pl.read_ndjson(out).columns  # stored once, not per clip


# -- the objectives --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hier():
    onto = tiny_ontology()
    return Hierarchy.from_ontology(onto, sorted(c.id for c in onto.active()))


@pytest.mark.parametrize("name", ["flat", "hier"])
def test_objectives_give_unknown_concepts_no_gradient(hier, name):
    """A clip with *dog* from a source annotating only dog: bird, rain, music... are unknown;
    a clip without dog from the same source knows only dog and its descendant bark."""
    ids = hier.ids
    dog, bark, animal, sound = (ids.index(uid(n)) for n in (30, 31, 29, 20))
    labels = torch.zeros(2, len(ids))
    labels[0, dog] = 1
    annotated = torch.zeros(2, len(ids))
    annotated[:, dog] = 1
    obj = Objective(name, hier, "positive" if name == "hier" else None)
    torch.manual_seed(0)
    logits = torch.randn(2, len(ids), requires_grad=True)
    obj.loss(logits, labels, annotated).backward()
    trained = [{c for c in range(len(ids)) if logits.grad[r, c] != 0} for r in range(2)]
    if name == "flat":  # every known entry is trained, nothing else
        assert trained == [{dog, animal, sound}, {dog, bark}]
    else:  # MCLoss routes each known entry's gradient to the max of its branch, inside the space
        assert dog in trained[0] <= {dog, animal, sound} and bark in trained[1] <= {dog, bark}
    # masking changes the loss; without `annotated` it is the unmasked loss of before
    assert not torch.isclose(obj.loss(logits, labels, annotated), obj.loss(logits, labels))


def test_hier_scores_keep_the_constraint_whatever_was_masked(hier):
    obj = Objective("hier", hier)
    scores = obj.scores(torch.randn(64, len(hier)))
    assert not hier.violations(scores).any()


def test_contrastive_soft_targets_use_known_overlap(hier):
    obj = Objective("hier+contrastive", hier, contrastive={"targets": "soft"})
    n, d = 3, 8
    out = {"audio": torch.randn(n, d), "text": torch.randn(n, d), "logit_scale": torch.tensor(2.0),
           "logits": torch.randn(n, len(hier))}
    labels = torch.zeros(n, len(hier))
    labels[:, hier.ids.index(uid(30))] = 1
    labels[0, hier.ids.index(uid(3))] = 1  # clip 0 also has piano; clips 1, 2 come from a dog-only source
    annotated = torch.ones(n, len(hier))
    annotated[1:] = 0
    annotated[1:, hier.ids.index(uid(30))] = 1
    _, plain = obj(out, labels)
    total, masked = obj(out, labels, annotated)
    assert plain["contrastive"] != pytest.approx(masked["contrastive"])
    assert set(masked) == {"tagging", "contrastive"} and torch.isfinite(total)


def test_weighted_draws_are_deterministic_and_follow_the_weights():
    s = DurationBatchSampler([1.0] * 10, batch_size=5, seed=3, epoch=0, weights=[1.0] + [0.0] * 9)
    assert sorted(i for b in s for i in b) == [0] * 10
    w = [0.5] + [0.5 / 9] * 9
    a = [i for b in DurationBatchSampler([1.0] * 10, batch_size=5, seed=3, epoch=1, weights=w) for i in b]
    b = [i for b in DurationBatchSampler([1.0] * 10, batch_size=5, seed=3, epoch=1, weights=w) for i in b]
    assert a == b and len(a) == 10
    with pytest.raises(ValueError, match="non-negative"):
        DurationBatchSampler([1.0] * 3, batch_size=2, weights=[1.0, -1.0, 0.0])


# -- end to end ------------------------------------------------------------------------------
def _split_by_domain(manifest: Path, tmp: Path, onto_path: Path) -> list[Path]:
    """Two partially labelled sources from one corpus: clips 0-11 keep only music labels,
    clips 12-23 only sound labels; each gets a sidecar through `uts pool`'s own loader rule."""
    df = pl.read_ndjson(manifest)
    base = manifest.parent
    out = []
    for name, keep, rows in (("music-set", MUSIC_IDS, slice(0, 12)), ("sound-set", None, slice(12, 24))):
        part = df[rows].with_columns(
            pl.col("labels").list.eval(pl.element().filter(pl.element().is_in(list(MUSIC_IDS)) if keep else
                                                            ~pl.element().is_in(list(MUSIC_IDS)))),
            (pl.lit(str(base) + "/") + pl.col("audio_path")).alias("audio_path"))
        path = tmp / f"{name}.jsonl"
        part.write_ndjson(path)
        out.append(path)
    return out


def test_pool_train_eval_end_to_end(tmp_path, capsys):
    runner = CliRunner()
    onto_path = write_ontology(tmp_path)
    manifest = tiny_corpus(tmp_path, n=24)
    test = tiny_corpus(tmp_path, n=12, seed=5, name="test")
    parts = _split_by_domain(manifest, tmp_path, onto_path)
    pooled = tmp_path / "pooled.jsonl"
    res = runner.invoke(app, ["pool", *map(str, parts), "-o", str(pooled), "--ontology", str(onto_path),
                              "--sampling", "balanced", "--plot", str(tmp_path / "cov.png")])
    assert res.exit_code == 0, res.output
    assert "24 clips from 2 sources" in res.output and "| music-set * |" in res.output
    assert (tmp_path / "cov.png").is_file() and sources_path(pooled).is_file()

    losses = {}
    from uts.training.config import load_config
    from uts.training.evaluate import evaluate
    from uts.training.trainer import train

    for mask in ("true", "false"):
        out = tmp_path / f"run-{mask}"
        cfg = load_config(None, tiny_overrides(tmp_path, pooled, out, onto_path, **{
            "optim.max_steps": 4, "objective.mask_unannotated": mask}))
        train(cfg)
        assert "pooled data: 2 source(s) (music-set, sound-set)" in capsys.readouterr().out
        with (out / "metrics.csv").open() as fh:
            losses[mask] = [float(r["loss"]) for r in csv.DictReader(fh) if r["split"] == "train"]
        assert (out / "sources.json").is_file()
    assert losses["true"] != losses["false"]  # the same data and seed: only the mask differs

    res = runner.invoke(app, ["eval", str(tmp_path / "run-true"), str(test), "--no-probe"])
    assert res.exit_code == 0, res.output
    assert "source music-set:" in res.output and "source sound-set:" in res.output
    result = json.loads((tmp_path / "run-true" / "eval" / "eval.json").read_text())
    assert result["per_source_clips"] == "all"
    music = result["per_source"]["music-set"]
    assert music["clips"] == 12 and music["classes"] < result["classes"]


# -- pooling under the captioning objective ---------------------------------------------------
def test_caption_loss_is_not_masked_by_the_label_space(hier):
    """hier+caption on pooled data: the tagging part is masked, the caption part (captions carry
    no label space) is the same with or without ``annotated``."""
    obj = Objective("hier+caption", hier, caption={"label_smoothing": 0.1})
    torch.manual_seed(0)
    n, length, vocab = 2, 5, 11
    out = {"logits": torch.randn(n, len(hier)), "caption_logits": torch.randn(n, length, vocab),
           "caption_targets": torch.randint(0, vocab, (n, length))}
    labels = torch.zeros(n, len(hier))
    labels[0, hier.ids.index(uid(30))] = 1
    annotated = torch.zeros(n, len(hier))
    annotated[:, hier.ids.index(uid(30))] = 1
    _, plain = obj(out, labels)
    _, masked = obj(out, labels, annotated)
    assert masked["caption"] == pytest.approx(plain["caption"])
    assert masked["tagging"] != pytest.approx(plain["tagging"])


def test_pooled_manifest_trains_and_evaluates_under_hier_plus_caption(tmp_path, capsys):
    from uts.training.config import load_config
    from uts.training.evaluate import evaluate
    from uts.training.trainer import train

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: far faster on a loaded machine
    try:
        onto_path = write_ontology(tmp_path)
        manifest = tiny_corpus(tmp_path, n=24)
        parts = _split_by_domain(manifest, tmp_path, onto_path)
        pooled = tmp_path / "pooled.jsonl"
        res = CliRunner().invoke(app, ["pool", *map(str, parts), "-o", str(pooled), "--ontology", str(onto_path)])
        assert res.exit_code == 0, res.output
        out = tmp_path / "run"
        run = train(load_config(None, tiny_overrides(tmp_path, pooled, out, onto_path, **{
            "optim.max_steps": 2, "objective.name": "hier+caption", "caption.dim": 16, "caption.depth": 1,
            "caption.heads": 2, "caption.max_length": 24, "caption.captions": "tags"})))
        assert "pooled data: 2 source(s) (music-set, sound-set)" in capsys.readouterr().out
        with (out / "metrics.csv").open() as fh:
            rows = [r for r in csv.DictReader(fh) if r["split"] == "train"]
        assert rows and all(torch.isfinite(torch.tensor(float(r["loss"]))) for r in rows)
        ev = evaluate(run, pooled, probe=False)
        assert set(ev["per_source"]) == {"music-set", "sound-set"}
        assert ev["caption"]["caption_loss"] > 0 and ev["scores_from"] == "head"
    finally:
        torch.set_num_threads(before)
