"""Lhotse as the data layer (issue 17): a cut manifest shaped like the paper's release and the same
clips as Lhotse Shar shards both train with ``uts train`` (one process and 2-process DDP on CPU)
with identical label sets; ``uts shar export`` writes the shards; each (process, worker) reads
its own shards."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
import soundfile as sf
from lhotse import CutSet
from typer.testing import CliRunner

from _lhotse_helpers import paper_cut
from _training_helpers import TREE, tiny_corpus, tiny_overrides, uid, write_ontology
from uts.cli.main import app
from uts.cuts import export_report_path, export_shar, read_shar_manifest
from uts.training.data import ClipDataset, LabelSpace, ManifestError, make_shar_loader, read_manifest, read_shar
from uts.training.trainer import load_checkpoint

LABEL = {uid(n): label for n, label, _, _ in TREE}


def _alignment(path):
    """The reviewed alignment of the paper's tags: every label of the tiny tree, as written."""
    rows = [f"paper:{n}\t{label}\tskos:exactMatch\t{uid(n)}\t{label}\tsemapv:ManualMappingCuration\t"
            for n, label, _, _ in TREE]
    path.write_text("# curie_map:\n#   UTS: https://w3id.org/uts/\n#   paper: https://example.org/paper/\n"
                    "subject_id\tsubject_label\tpredicate_id\tobject_id\tobject_label\tmapping_justification\t"
                    "predicate_modifier\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    """A synthetic corpus as the paper releases it: Lhotse cuts (gzipped), free-text tags in
    supervisions[0].custom.audio_tag (odd casing, a repeated tag, an unknown one), a caption;
    then mapped (uts map apply) and exported (uts shar export, 3 shards)."""
    tmp = tmp_path_factory.mktemp("paper")
    onto = write_ontology(tmp)
    flat = pl.read_ndjson(tiny_corpus(tmp, n=8, seconds=1.5))
    cuts = []
    for i, row in enumerate(flat.iter_rows(named=True)):
        tags = [LABEL[c] for c in row["labels"]]
        tags = [tags[0].upper()] + tags + [tags[0], "theremin"] if i % 3 == 0 else tags
        cuts.append(paper_cut(row["id"], str(tmp / "corpus" / row["audio_path"]), tags, f"clip {i}",
                              start=0.25, duration=1.25, file_seconds=1.5))
    manifest = tmp / "cuts.jsonl.gz"
    import gzip
    manifest.write_bytes(gzip.compress("".join(json.dumps(c) + "\n" for c in cuts).encode()))
    align = _alignment(tmp / "paper.sssom.tsv")
    run = CliRunner().invoke
    res = run(app, ["map", "apply", str(manifest), "-m", str(align), "-t", str(onto), "-o", str(tmp / "mapped.jsonl")])
    assert res.exit_code == 0, res.output
    res = run(app, ["shar", "export", str(tmp / "mapped.jsonl"), "--out", str(tmp / "shar"), "--shard-size", "3",
                    "--ontology", str(onto)])
    assert res.exit_code == 0, res.output
    assert "8 clips" in res.output and "3 shard(s)" in res.output
    return {"tmp": tmp, "onto": onto, "cuts": manifest, "align": align, "mapped": tmp / "mapped.jsonl",
            "shar": tmp / "shar"}


def test_shar_cuts_carry_labels_caption_tags_and_the_segment(paper):
    mapped = read_manifest(paper["mapped"])
    shar = read_shar(paper["shar"])
    assert sorted(shar["id"]) == sorted(mapped["id"])
    by_id = {r["id"]: r for r in mapped.iter_rows(named=True)}
    for row in shar.iter_rows(named=True):
        want = by_id[row["id"]]
        assert (row["labels"], row["inferred"], row["caption"], row["source_labels"]) == (
            want["labels"], want["inferred"], want["caption"], want["source_labels"])
        assert row["duration"] == pytest.approx(1.25) and row["start"] == 0.0
    assert any("theremin" in r for r in shar["source_labels"])  # the paper's own tags, as given
    # the audio is the manifest's segment (start 0.25 s, 1.25 s long), losslessly
    cut = next(iter(CutSet.from_shar(in_dir=paper["shar"])))
    source, sr = sf.read(by_id[cut.id]["audio_path"], dtype="float32")
    assert cut.sampling_rate == sr
    np.testing.assert_allclose(cut.load_audio()[0], source[int(0.25 * sr):int(1.5 * sr)], atol=1e-4)
    assert cut.supervisions[0].custom["audio_tag"] == by_id[cut.id]["source_labels"]


def _overrides(paper, train, out, **extra):
    values = {"data.clip_seconds": 1.0, "optim.max_steps": 2, "run.ckpt_every": 2, "run.device": "cpu",
              "run.threads": 1, **extra}
    return tiny_overrides(paper["tmp"], train, out, paper["onto"], **values)


def test_cuts_and_their_shar_shards_train_with_the_same_labels(paper, tmp_path):
    from uts.training.trainer import train
    from uts.training.config import load_config

    cuts_run = train(load_config(None, tuple(_overrides(paper, paper["cuts"], tmp_path / "cuts",
                                                         **{"data.alignment": str(paper["align"])}))))
    shar_run = train(load_config(None, tuple(_overrides(paper, paper["shar"], tmp_path / "shar",
                                                         **{"data.num_workers": 2}))))
    labels = [json.loads((run / "labels.json").read_text())["ids"] for run in (cuts_run, shar_run)]
    assert labels[0] == labels[1] and len(labels[0]) > 5
    for run in (cuts_run, shar_run):
        assert load_checkpoint(sorted((run / "checkpoints").glob("*.safetensors"))[-1])["position"]["step"] == 2
        assert (run / "model.safetensors").is_file()


def test_cuts_and_shar_train_under_two_process_ddp(paper, tmp_path, repo):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{repo}:{repo / 'tests'}"}
    runs = {}
    for name, train, extra in [("cuts", paper["cuts"], {"data.alignment": str(paper["align"])}),
                               ("shar", paper["shar"], {"data.num_workers": 1})]:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "uts.cli.main", "train"] + [a for o in _overrides(paper, train, tmp_path / name, **extra)
                                                  for a in ("--set", o)]
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        runs[name] = tmp_path / name
        assert json.loads((runs[name] / "config.json").read_text())["world_size"] == 2
        last = load_checkpoint(sorted((runs[name] / "checkpoints").glob("*.safetensors"))[-1])
        assert last["position"]["step"] == 2 and len(last["rng"]) == 2
    labels = [json.loads((run / "labels.json").read_text())["ids"] for run in runs.values()]
    assert labels[0] == labels[1]


@pytest.mark.parametrize("workers", [0, 2])
def test_every_process_and_worker_reads_its_own_shards(paper, monkeypatch, workers):
    """lhotse's split_for_dataloading: one pass of 2 ranks x workers covers every clip once."""
    df = read_shar(paper["shar"])
    clips = ClipDataset(df, LabelSpace.from_manifest(df), sample_rate=8000, clip_seconds=1.0)
    seen = []
    paper_shards = 3
    for rank in range(2 if workers == 0 else 1):  # 3 shards: 2 ranks x 1, or 1 rank x 2 workers
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2" if workers == 0 else "1")
        loader = make_shar_loader(paper["shar"], clips, batch_size=2, num_workers=workers, seed=3, rank=rank,
                                  world_size=2 if workers == 0 else 1, endless=False)
        seen.append([cid for batch in loader for cid in batch["id"]])
    assert all(seen) and sorted(sum(seen, [])) == sorted(df["id"])  # disjoint, and all of them
    assert paper_shards == len(set(df["audio_path"]))
    with pytest.raises(ManifestError, match="3 shard.*2 process.*2 loader worker"):
        make_shar_loader(paper["shar"], clips, batch_size=2, num_workers=2, world_size=2)


def test_an_epoch_is_the_same_number_of_batches_on_every_rank(paper, monkeypatch):
    df = read_shar(paper["shar"])
    clips = ClipDataset(df, LabelSpace.from_manifest(df), sample_rate=8000, clip_seconds=1.0)
    lengths = []
    for rank in range(2):  # rank 0 holds 2 shards (6 clips), rank 1 one (2): the stream repeats
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        epoch = make_shar_loader(paper["shar"], clips, batch_size=2, rank=rank, world_size=2, seed=1)
        lengths.append((len(epoch), sum(1 for _ in epoch)))
    assert lengths == [(2, 2), (2, 2)]
    resumed = make_shar_loader(paper["shar"], clips, batch_size=2, rank=1, world_size=2, seed=1, start_batch=1)
    assert len(resumed) == 1
    # one source's equal draw weights change nothing; unequal ones need random access
    assert len(make_shar_loader(paper["shar"], clips, batch_size=2, weights=[0.125] * 8)) == 4
    with pytest.raises(ManifestError, match="source_weights=false"):
        make_shar_loader(paper["shar"], clips, batch_size=2, weights=[1.0] * 7 + [3.0])


def test_export_refuses_an_occupied_folder_and_leaves_nothing_on_failure(paper, tmp_path, monkeypatch):
    import uts.cuts

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        export_shar(paper["mapped"], occupied, overwrite=True)  # --overwrite replaces only Shar folders
    assert (occupied / "notes.txt").read_text() == "mine"

    calls = {"n": 0}
    real = uts.cuts._cut_of

    def failing(row, extras):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk full")
        return real(row, extras)

    monkeypatch.setattr(uts.cuts, "_cut_of", failing)
    with pytest.raises(OSError, match="disk full"):
        export_shar(paper["mapped"], tmp_path / "new", shard_size=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["occupied"]  # no shards, no temporary folder


def test_export_skips_unusable_audio_and_counts_it(tmp_path):
    x = np.random.default_rng(0).standard_normal((16000, 2)).astype(np.float32) * 0.1
    sf.write(tmp_path / "stereo.wav", x, 16000)
    rows = [{"id": "a", "audio_path": "stereo.wav", "labels": ["UTS:0000003"]},
            {"id": "gone", "audio_path": "missing.wav", "labels": ["UTS:0000003"]},
            {"id": "late", "audio_path": "stereo.wav", "start": 5.0, "labels": ["UTS:0000003"]}]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = export_shar(tmp_path / "m.jsonl", tmp_path / "shar", audio_format="wav")
    assert (report.clips, report.shards, report.skipped) == (1, 1, {"missing_file": 1, "out_of_range": 1})
    assert report.summary().startswith("1 clips (1.0 s of audio) in 1 shard(s)")  # not "0.00 h"
    assert read_shar_manifest(tmp_path / "shar")["id"].to_list() == ["a"]
    cut = next(iter(CutSet.from_shar(in_dir=tmp_path / "shar")))
    assert cut.load_audio().shape == (2, 16000)  # both channels kept; training mixes them down
    written = json.loads(export_report_path(tmp_path / "shar").read_text())  # beside, not inside
    assert (written["clips"], written["skipped"], written["reasons"]) == (1, 2, {"missing_file": 1, "out_of_range": 1})
    assert written["examples"]["missing_file"] == ["gone"]
    # --strict refuses the same manifest before anything is written
    res = CliRunner().invoke(app, ["shar", "export", str(tmp_path / "m.jsonl"), "--out", str(tmp_path / "strict"),
                                   "--strict"])
    assert res.exit_code == 1 and "--strict refuses" in res.output and "missing_file: 1" in res.output
    assert not (tmp_path / "strict").exists() and not export_report_path(tmp_path / "strict").exists()
    assert not any(p.name.startswith(".strict") for p in tmp_path.iterdir())


def test_shar_is_for_training_and_a_cut_manifest_needs_mapping(paper, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["eval", str(paper["tmp"]), str(paper["shar"])])
    assert res.exit_code == 1
    res = runner.invoke(app, ["shar", "export", str(paper["cuts"]), "--out", str(tmp_path / "s")])
    assert res.exit_code == 1 and "uts map apply" in res.output and not (tmp_path / "s").exists()
    with pytest.raises(ManifestError, match="streams audio for uts train only"):
        read_manifest(paper["shar"])


def test_a_killed_shar_run_resumes_to_the_same_weights(paper, tmp_path):
    """The stream of an epoch is fixed by (seed, epoch): a resumed epoch skips the batches it
    already trained on and continues with the same batches, crops and augmentation."""
    import torch
    from safetensors.torch import load_file

    from uts.training.config import load_config
    from uts.training.trainer import train

    extra = {"data.batch_size": 2, "data.num_workers": 1, "optim.max_steps": "null",
             "run.ckpt_every": 3}  # 4 batches per epoch, 2 epochs; checkpoint at step 3 (mid-epoch 0)
    straight = train(load_config(None, tuple(_overrides(paper, paper["shar"], tmp_path / "a", **extra))))

    def crash(step):
        if step == 5:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated crash"):
        train(load_config(None, tuple(_overrides(paper, paper["shar"], tmp_path / "b", **extra))), on_step=crash)
    assert load_checkpoint(tmp_path / "b" / "checkpoints" / "step_00000003.safetensors")["position"] == \
        {"step": 3, "epoch": 0, "batch": 3, "world_size": 1}
    train(resume=tmp_path / "b")
    a, b = load_file(straight / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_broken_cut_line_is_named_by_its_number(tmp_path):
    from uts.cuts import ManifestFormatError, read_cuts

    good = json.dumps(paper_cut("a", "a.wav", "dog, Rain , dog"))  # tags as one comma-joined string
    path = tmp_path / "cuts.jsonl"
    path.write_text(good + "\n" + good.replace('"a"', '"b"') + "\n" + '{"id": "c", "type": "MonoCut"}\n' + good + "\n")
    with pytest.raises(ManifestFormatError, match=r"cuts\.jsonl:3: not a Lhotse cut"):
        read_cuts(path)
    path.write_text(good + "\n")
    assert read_cuts(path)["audio_tag"].to_list() == [["dog", "Rain", "dog"]]
