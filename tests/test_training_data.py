"""Training data: manifests (flat JSONL/Parquet, Lhotse), validation of bad entries, audio
reading/resampling/cropping, the label space, the duration batch sampler and the loader."""

from __future__ import annotations

import gzip
import json

import numpy as np
import polars as pl
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from _lhotse_helpers import paper_cut
from uts.ontology import Concept, Ontology
from uts.training.data import (BadItem, ClipDataset, DurationBatchSampler, LabelSpace, ManifestError,
                               collate_clips, crop_or_pad, make_loader, read_manifest, read_segment,
                               resample, validate_manifest, write_manifest)


def _onto() -> Ontology:
    return Ontology([
        Concept("UTS:0000001", "music", root=True),
        Concept("UTS:0000002", "percussion", parents=["UTS:0000001"]),
        Concept("UTS:0000003", "drum", synonyms=["drums"], parents=["UTS:0000002"]),
        Concept("UTS:0000004", "snare drum", parents=["UTS:0000003"]),
        Concept("UTS:0000005", "piano", parents=["UTS:0000001"]),
        Concept("UTS:0000006", "guitar", parents=["UTS:0000001"]),
        Concept("UTS:0000007", "acoustic guitar", parents=["UTS:0000006"]),
        Concept("UTS:0000008", "old piano", deprecated=True, replaced_by=["UTS:0000005"]),
    ])


def _tone(path, seconds=1.0, sr=16000, freq=440.0, channels=1, subtype="PCM_16"):
    """A sine plus a little noise (so that no two windows of the file are identical)."""
    t = np.arange(int(seconds * sr)) / sr
    noise = np.random.default_rng(int(freq)).standard_normal(len(t))
    x = (0.5 * np.sin(2 * np.pi * freq * t) + 0.01 * noise).astype(np.float32)
    sf.write(path, np.stack([x] * channels, axis=1) if channels > 1 else x, sr, subtype=subtype)
    return path


def _jsonl(path, rows, gz=False):
    text = "\n".join(json.dumps(r) for r in rows) + "\n"
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


# -- manifests -------------------------------------------------------------------------------
def test_flat_jsonl_fills_defaults_and_resolves_relative_paths(tmp_path):
    (tmp_path / "audio").mkdir()
    _tone(tmp_path / "audio" / "a.wav")
    m = _jsonl(tmp_path / "m.jsonl", [
        {"id": "a", "audio_path": "audio/a.wav", "duration": 1.0, "labels": ["UTS:0000004"], "speaker": "x"},
        {"id": "b", "path": str(tmp_path / "audio" / "a.wav"), "start": 0.5, "duration": 0.5,
         "labels": ["UTS:0000005"], "inferred": ["UTS:0000001"], "caption": "a piano"},
    ])
    df = read_manifest(m)
    assert df.columns[:9] == ["id", "audio_path", "start", "duration", "labels", "inferred", "caption",
                             "source_labels", "unmapped_tags"]
    assert df["audio_path"].to_list() == [str(tmp_path / "audio" / "a.wav")] * 2
    assert df["start"].to_list() == [0.0, 0.5]
    assert df["inferred"].to_list() == [[], ["UTS:0000001"]]
    assert df["caption"].to_list() == [None, "a piano"]
    assert df["speaker"].to_list() == ["x", None]  # extra columns pass through


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".parquet"])
def test_write_then_read_round_trips(tmp_path, suffix):
    df = pl.DataFrame({"id": ["a", "b"], "audio_path": ["/x/a.wav", "/x/b.wav"], "start": [0.0, 1.0],
                       "duration": [1.0, 2.0], "labels": [["UTS:0000004"], []], "caption": ["c", None]})
    path = write_manifest(df, tmp_path / f"m{suffix}")
    back = read_manifest(path)
    assert back.select(df.columns).equals(df)
    assert not list(tmp_path.glob("*.tmp"))


def test_flat_ids_are_brought_up_to_date_but_text_is_never_resolved_again(tmp_path):
    m = _jsonl(tmp_path / "m.jsonl", [
        {"id": "a", "audio_path": "a.wav", "labels": ["UTS:0000008", "UTS:0000004"], "inferred": ["UTS:0000003", "UTS:0000999"]},
        {"id": "b", "audio_path": "b.wav", "labels": ["Acoustic Guitar", "UTS:0000999", "kazoo"]},
    ])
    df = read_manifest(m, onto=_onto())
    assert df["labels"].to_list() == [["UTS:0000005", "UTS:0000004"], []]  # deprecated -> successor
    assert df["inferred"].to_list() == [["UTS:0000003"], []]
    # text in a manifest is reported, not resolved: `uts map apply` is the one way text becomes ids
    assert df["unmapped_tags"].to_list() == [[], ["Acoustic Guitar", "UTS:0000999", "kazoo"]]
    assert read_manifest(m)["labels"].to_list()[1] == ["Acoustic Guitar", "UTS:0000999", "kazoo"]  # no ontology: as given


def test_gzipped_jsonl_is_read(tmp_path):
    m = _jsonl(tmp_path / "m.jsonl.gz", [{"id": "a", "audio_path": "/a.wav", "labels": ["UTS:0000005"]}], gz=True)
    assert read_manifest(m)["labels"].to_list() == [["UTS:0000005"]]


def test_unreadable_manifests_raise_clear_errors(tmp_path):
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path / "none.jsonl")
    with pytest.raises(ManifestError, match="audio_path"):
        read_manifest(_jsonl(tmp_path / "a.jsonl", [{"id": "a", "labels": []}]))
    with pytest.raises(ManifestError, match=r"b\.jsonl:2: id .a. already used on line 1"):
        read_manifest(_jsonl(tmp_path / "b.jsonl", [{"id": "a", "audio_path": "x"}] * 2))
    (tmp_path / "c.jsonl").write_text("{not json\n")
    with pytest.raises(ManifestError):
        read_manifest(tmp_path / "c.jsonl")
    (tmp_path / "d.parquet").write_text("nope")
    with pytest.raises(ManifestError, match="Parquet"):
        read_manifest(tmp_path / "d.parquet")


def _cut(cid, path, tags, caption="cap"):
    return paper_cut(cid, path, tags, caption)


def test_lhotse_cuts_are_labelled_by_the_mapping_engine(tmp_path):
    _tone(tmp_path / "a.wav")
    align = tmp_path / "paper.sssom.tsv"
    align.write_text(
        "# curie_map:\n#   UTS: https://w3id.org/uts/\n"
        "subject_id\tsubject_label\tpredicate_id\tobject_id\tobject_label\tmapping_justification\tpredicate_modifier\n"
        "paper:1\tdrums\tskos:exactMatch\tUTS:0000003\tdrum\tsemapv:ManualMappingCuration\t\n"
        "paper:2\tsnare\tskos:broadMatch\tUTS:0000003\tdrum\tsemapv:ManualMappingCuration\t\n"
        "paper:3\tstrings\tskos:narrowMatch\tUTS:0000007\tacoustic guitar\tsemapv:ManualMappingCuration\t\n"
        "paper:5\tpiano\tskos:exactMatch\tUTS:0000005\tpiano\tsemapv:ManualMappingCuration\t\n"
        "paper:6\tguitar\tskos:exactMatch\tUTS:0000007\tacoustic guitar\tsemapv:ManualMappingCuration\tNot\n")
    m = _jsonl(tmp_path / "cuts.jsonl.gz", [
        _cut("c1", "a.wav", ["Drums", "snare", "piano"]),
        _cut("c2", "a.wav", ["strings", "guitar", "theremin"]),
    ], gz=True)
    df = read_manifest(m, onto=_onto(), alignment=align)
    assert df["labels"].to_list() == [["UTS:0000003", "UTS:0000005"], []]
    # narrowMatch would over-claim, a rejected row (Not) is no mapping, unknown tags are not
    # guessed: all three reported.
    assert df["unmapped_tags"].to_list() == [[], ["strings", "guitar", "theremin"]]
    assert df["caption"].to_list() == ["cap", "cap"]
    assert df["source_labels"].to_list()[0] == ["Drums", "snare", "piano"]
    assert df["audio_path"][0] == str(tmp_path / "a.wav")
    good, report = validate_manifest(df)
    assert good.height == 2 and report.unmapped_tags == {"strings": 1, "guitar": 1, "theremin": 1}
    assert "3 tags (3 distinct) resolved to no UTS concept" in report.summary()


def test_lhotse_without_alignment_is_a_clear_error(tmp_path):
    m = _jsonl(tmp_path / "cuts.jsonl", [_cut("c1", "/a.wav", ["drums", "Piano", "snare drum"])])
    with pytest.raises(ManifestError, match="uts map apply"):
        read_manifest(m, onto=_onto())


# -- validation and bad items -------------------------------------------------------------------
def test_bad_entries_are_reported_by_reason_and_skipped(tmp_path):
    _tone(tmp_path / "good.wav", seconds=1.0)
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    (tmp_path / "junk.wav").write_bytes(b"RIFF not really audio")
    rows = [
        {"id": "good", "audio_path": "good.wav", "duration": 1.0},
        {"id": "nodur", "audio_path": "good.wav", "start": 0.25},
        {"id": "missing", "audio_path": "nope.wav", "duration": 1.0},
        {"id": "junk", "audio_path": "junk.wav", "duration": 1.0},
        {"id": "empty", "audio_path": "empty.wav"},
        {"id": "zerodur", "audio_path": "good.wav", "duration": 0.0},
        {"id": "late", "audio_path": "good.wav", "start": 2.0, "duration": 1.0},
        {"id": "long", "audio_path": "good.wav", "start": 0.5, "duration": 1.0},
    ]
    df = read_manifest(_jsonl(tmp_path / "m.jsonl", rows))
    good, report = validate_manifest(df)
    assert good["id"].to_list() == ["good", "nodur"]
    assert good["duration"].to_list() == [1.0, 0.75]  # filled from the file
    assert report.counts == {"missing_file": 1, "unreadable": 1, "zero_length": 2, "out_of_range": 2}
    assert {e.id: e.reason for e in report.entries}["junk"] == "unreadable"
    assert report.summary().startswith("skipped 6 of 8 entries")
    assert report.to_dict()["counts"]["out_of_range"] == 2


def test_nan_audio_is_dropped_at_load_time_and_counted(tmp_path):
    _tone(tmp_path / "ok.wav")
    x = np.full(16000, 0.1, dtype=np.float32)
    x[100] = np.nan
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    df = read_manifest(_jsonl(tmp_path / "m.jsonl", [
        {"id": "ok", "audio_path": "ok.wav", "labels": ["UTS:0000005"]},
        {"id": "nan", "audio_path": "nan.wav", "labels": ["UTS:0000004"]}]))
    good, report = validate_manifest(df)
    assert good.height == 2  # cheap checks cannot see NaN; decoding does
    ds = ClipDataset(good, LabelSpace(["UTS:0000004", "UTS:0000005"]), clip_seconds=1.0, train=False)
    assert isinstance(ds[1], BadItem) and ds[1].reason == "non_finite"
    batches = list(make_loader(ds, batch_size=2, num_buckets=1, shuffle=False))
    assert len(batches) == 1
    batch = batches[0]
    assert batch["id"] == ["ok"] and batch["dropped"] == [("nan", "non_finite")]
    assert batch["targets"].tolist() == [[0.0, 1.0]]  # the good clip keeps its own label


def test_collate_of_only_bad_items_is_an_empty_batch():
    batch = collate_clips([BadItem("a", "unreadable"), BadItem("b", "non_finite")])
    assert batch["waveform"].shape[0] == 0 and len(batch["dropped"]) == 2


# -- audio ------------------------------------------------------------------------------------
def _peak_hz(x, sr):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spectrum)]


@pytest.mark.parametrize("orig,target", [(44100, 16000), (8000, 16000), (22050, 32000)])
def test_resampling_keeps_a_sines_frequency_and_duration(orig, target):
    t = np.arange(orig) / orig
    x = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    y = resample(x, orig, target)
    assert abs(len(y) - target) <= 1
    assert abs(_peak_hz(y, target) - 1000) <= 2
    assert np.abs(y[target // 4: -target // 4]).max() == pytest.approx(1.0, abs=0.02)  # no gain change


def test_resampling_removes_content_above_the_new_nyquist():
    t = np.arange(44100) / 44100
    y = resample(np.sin(2 * np.pi * 12000 * t), 44100, 16000)  # 12 kHz cannot exist at 16 kHz
    assert np.sqrt(np.mean(y[1000:-1000] ** 2)) < 0.01


def test_read_segment_reads_the_right_window_mixes_to_mono_and_resamples(tmp_path):
    sr = 8000
    ramp = np.linspace(0, 1, 2 * sr, endpoint=False).astype(np.float32)
    sf.write(tmp_path / "st.wav", np.stack([ramp, -ramp + 0.2], axis=1), sr, subtype="FLOAT")
    x = read_segment(str(tmp_path / "st.wav"), start=0.5, duration=0.25)
    assert len(x) == sr // 4
    assert x[0] == pytest.approx(0.1, abs=1e-6)  # mean of the two channels is constant 0.1
    ramp_path = tmp_path / "ramp.wav"
    sf.write(ramp_path, ramp, sr, subtype="FLOAT")
    y = read_segment(str(ramp_path), start=1.0, duration=0.5)
    assert y[0] == pytest.approx(0.5, abs=1e-6) and len(y) == sr // 2
    assert len(read_segment(str(ramp_path), 0.0, 1.0, sample_rate=16000)) == 16000


def test_crop_or_pad():
    x = np.arange(10, dtype=np.float32)
    assert crop_or_pad(x, 4).tolist() == [3, 4, 5, 6]  # centre
    assert crop_or_pad(x, 12).tolist() == list(range(10)) + [0, 0]
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    a, b = crop_or_pad(x, 4, rng_a), crop_or_pad(x, 4, rng_b)
    assert a.tolist() == b.tolist() and (a[1:] - a[:-1] == 1).all()
    offsets = {int(crop_or_pad(x, 4, np.random.default_rng(s))[0]) for s in range(50)}
    assert offsets == set(range(7))  # every window reachable


# -- label space and dataset --------------------------------------------------------------------
def test_label_space_from_manifest_adds_ancestors_sorted_by_depth():
    df = pl.DataFrame({"labels": [["UTS:0000004"], ["UTS:0000007", "UTS:0000004"]], "inferred": [["UTS:0000003"], []]})
    space = LabelSpace.from_manifest(df, _onto())
    assert space.ids == ["UTS:0000001", "UTS:0000002", "UTS:0000006", "UTS:0000003", "UTS:0000007", "UTS:0000004"]
    assert LabelSpace.from_manifest(df, _onto(), include_ancestors=False).ids == ["UTS:0000003", "UTS:0000007", "UTS:0000004"]
    assert LabelSpace.from_manifest(df, min_count=2).ids == ["UTS:0000004"]
    y = space.encode(["UTS:0000004", "UTS:0000099"])
    assert y.tolist() == [0, 0, 0, 0, 0, 1]
    assert space.decode(torch.tensor([0.9, 0.1, 0.6, 0, 0, 0])) == ["UTS:0000001", "UTS:0000006"]
    with pytest.raises(KeyError):
        space.encode(["UTS:0000099"], strict=True)
    with pytest.raises(ManifestError, match="UTS:0000099"):
        LabelSpace.from_manifest(pl.DataFrame({"labels": [["UTS:0000099"]]}), _onto())


def test_label_space_round_trips(tmp_path):
    space = LabelSpace(["UTS:0000002", "UTS:0000001"])
    space.save(tmp_path / "l.json")
    assert LabelSpace.load(tmp_path / "l.json") == space
    with pytest.raises(ValueError):
        LabelSpace(["UTS:0000001", "UTS:0000001"])


@pytest.fixture()
def corpus(tmp_path):
    """12 clips of 0.5-3 s at 22.05 kHz, each a distinct tone, with labels."""
    rows = []
    for i in range(12):
        seconds = 0.5 + 0.25 * i
        _tone(tmp_path / f"{i}.wav", seconds=seconds, sr=22050, freq=200 + 50 * i, channels=1 + i % 2)
        rows.append({"id": f"c{i}", "audio_path": f"{i}.wav", "duration": seconds,
                     "labels": [["UTS:0000004"], ["UTS:0000005"], []][i % 3], "caption": f"clip {i}"})
    df, report = validate_manifest(read_manifest(_jsonl(tmp_path / "m.jsonl", rows)))
    assert report.skipped == 0
    return df


def test_dataset_items_have_fixed_length_targets_and_captions(corpus):
    space = LabelSpace(["UTS:0000004", "UTS:0000005"])
    ds = ClipDataset(corpus, space, sample_rate=16000, clip_seconds=1.0, train=False)
    item = ds[0]  # 0.5 s clip: padded
    assert item["waveform"].shape == (16000,) and item["waveform"].dtype == torch.float32
    assert item["waveform"][8001:].abs().max() == 0 and item["waveform"][:8000].abs().max() > 0.4
    assert item["length"] == 8000 and ds[11]["length"] == 16000
    assert item["targets"].tolist() == [1.0, 0.0] and item["caption"] == "clip 0" and item["id"] == "c0"
    assert collate_clips([ds[0], ds[11]])["lengths"].tolist() == [8000, 16000]
    assert abs(_peak_hz(ds[11]["waveform"].numpy(), 16000) - 750) <= 2  # resampled tone keeps pitch
    whole = ClipDataset(corpus, space, sample_rate=16000, clip_seconds=None, train=False)
    assert whole[4]["waveform"].shape == (int(1.5 * 16000),)


def test_training_crops_depend_only_on_seed_epoch_and_index(corpus):
    space = LabelSpace(["UTS:0000004"])
    ds = ClipDataset(corpus, space, clip_seconds=0.5, train=True, seed=7)
    first = ds[11]["waveform"]
    assert torch.equal(first, ds[11]["waveform"])
    ds.set_epoch(1)
    assert not torch.equal(first, ds[11]["waveform"])
    ev = ClipDataset(corpus, space, clip_seconds=0.5, train=False)
    assert torch.equal(ev[11]["waveform"], ev[11]["waveform"])


def test_dataset_rejects_unvalidated_manifests():
    df = pl.DataFrame({"id": ["a"], "audio_path": ["x"], "start": [0.0], "duration": [None], "labels": [["x"]]},
                      schema_overrides={"duration": pl.Float64})
    with pytest.raises(ManifestError, match="validate_manifest"):
        ClipDataset(df, LabelSpace(["x"]))
    with pytest.raises(ManifestError, match="labels"):
        ClipDataset(df.drop("labels"), LabelSpace(["x"]))


# -- batching ---------------------------------------------------------------------------------
DURS = list(np.random.default_rng(0).uniform(0.5, 10, 103))


def _flat(batches):
    return [i for b in batches for i in b]


def test_sampler_is_deterministic_covers_everything_and_reshuffles_per_epoch():
    a = list(DurationBatchSampler(DURS, batch_size=8, seed=1, epoch=0))
    assert a == list(DurationBatchSampler(DURS, batch_size=8, seed=1, epoch=0))
    assert sorted(_flat(a)) == list(range(103)) and max(map(len, a)) == 8
    assert a != list(DurationBatchSampler(DURS, batch_size=8, seed=1, epoch=1))
    assert a != list(DurationBatchSampler(DURS, batch_size=8, seed=2, epoch=0))
    ordered = list(DurationBatchSampler(DURS, batch_size=8, shuffle=False))
    assert ordered == list(DurationBatchSampler(DURS, batch_size=8, shuffle=False, epoch=5))


def test_batches_group_similar_durations_and_respect_max_seconds():
    batches = list(DurationBatchSampler(DURS, max_seconds=30.0, seed=0))
    assert sorted(_flat(batches)) == list(range(103))
    for b in batches:
        d = [DURS[i] for i in b]
        assert len(b) == 1 or len(b) * max(d) <= 30.0
    spread = np.mean([max(DURS[i] for i in b) - min(DURS[i] for i in b) for b in batches])
    assert spread < 1.5  # buckets of ~1 s width, not the full 0.5-10 s range


@pytest.mark.parametrize("world", [2, 3, 4])
def test_ddp_shards_are_disjoint_and_equal_sized(world):
    shards = [list(DurationBatchSampler(DURS, batch_size=5, seed=3, rank=r, world_size=world, drop_last=True))
              for r in range(world)]
    assert len({len(s) for s in shards}) == 1
    seen = [set(_flat(s)) for s in shards]
    for r in range(world):
        for q in range(r + 1, world):
            assert not seen[r] & seen[q]
    padded = [list(DurationBatchSampler(DURS, batch_size=5, seed=3, rank=r, world_size=world)) for r in range(world)]
    assert len({len(s) for s in padded}) == 1
    assert set().union(*(_flat(s) for s in padded)) == set(range(103))  # every item seen


def test_resume_starts_at_the_requested_batch():
    full = DurationBatchSampler(DURS, batch_size=4, seed=9, epoch=2, rank=1, world_size=2)
    resumed = DurationBatchSampler(DURS, batch_size=4, seed=9, epoch=2, rank=1, world_size=2, start_batch=5)
    assert list(resumed) == list(full)[5:] and len(resumed) == len(full) - 5
    with pytest.raises(ValueError):
        DurationBatchSampler(DURS, batch_size=4, max_seconds=3.0)
    with pytest.raises(ValueError):
        DurationBatchSampler(DURS, batch_size=4, rank=2, world_size=2)


def test_resumed_loader_with_workers_yields_the_same_data(corpus):
    space = LabelSpace(["UTS:0000004", "UTS:0000005"])
    ds = ClipDataset(corpus, space, clip_seconds=0.5, train=True, seed=5)
    full = list(make_loader(ds, batch_size=3, seed=5, epoch=1, num_workers=0))
    tail = list(make_loader(ds, batch_size=3, seed=5, epoch=1, num_workers=2, start_batch=2))
    assert len(full) == 4 and len(tail) == 2
    for a, b in zip(full[2:], tail):
        assert a["id"] == b["id"] and torch.equal(a["waveform"], b["waveform"]) and torch.equal(a["targets"], b["targets"])
    other_epoch = list(make_loader(ds, batch_size=3, seed=5, epoch=2))
    assert [b["id"] for b in other_epoch] != [b["id"] for b in full]


@settings(max_examples=60, deadline=None)
@given(durations=st.lists(st.floats(0.1, 30.0), min_size=1, max_size=80), batch=st.integers(1, 9),
       world=st.integers(1, 4), seed=st.integers(0, 5), epoch=st.integers(0, 3), buckets=st.integers(1, 12))
def test_sampler_invariants(durations, batch, world, seed, epoch, buckets):
    kw = dict(batch_size=batch, seed=seed, epoch=epoch, num_buckets=buckets, world_size=world)
    dropped = [list(DurationBatchSampler(durations, rank=r, drop_last=True, **kw)) for r in range(world)]
    flat = [i for shard in dropped for i in _flat(shard)]
    assert len(flat) == len(set(flat))  # disjoint across ranks, no repeats
    assert len({len(s) for s in dropped}) == 1
    padded = [list(DurationBatchSampler(durations, rank=r, **kw)) for r in range(world)]
    assert len({len(s) for s in padded}) == 1
    assert set().union(*(_flat(s) for s in padded)) == set(range(len(durations)))
    assert all(1 <= len(b) <= batch for s in padded for b in s)
