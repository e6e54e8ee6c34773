"""uts.pool: the per-source sidecar, sampling weights, pooling and the coverage report."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from _ontology_helpers import build_small
from uts.mapping.labelsets import from_ontology
from uts.pool import (PoolError, Sources, clip_weights, coverage, coverage_table, describe_source,
                      load_source_manifest, plot_coverage, pool_manifests, read_sources,
                      sampling_weights, sources_path, write_sources)

SOUND, MUSIC, PERC, DRUM, HIHAT, SNARE = "UTS:0000001", "UTS:0000002", "UTS:0000003", "UTS:0000004", "UTS:0000005", "UTS:0000006"
VEHICLE, CAR, ENGINE = "UTS:0000007", "UTS:0000008", "UTS:0000009"


@pytest.fixture(scope="module")
def onto():
    return build_small()


def _manifest(path: Path, rows: list[dict], onto=None, source=None, mapped=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    if source:
        write_sources(path, Sources([describe_source(source, mapped, from_ontology(onto).graph, len(rows))]))
    return path


@pytest.fixture
def two_sources(tmp_path, onto):
    music = _manifest(tmp_path / "music" / "m.jsonl",
                      [{"id": f"m{i}", "audio_path": f"audio/m{i}.wav", "labels": [DRUM] if i % 2 else [HIHAT]}
                       for i in range(9)], onto, "music-set", [DRUM, HIHAT])
    cars = _manifest(tmp_path / "cars" / "c.jsonl",
                     [{"id": "c0", "audio_path": "/abs/c0.wav", "labels": [CAR]}], onto, "car-set", [CAR])
    return music, cars


def test_sidecar_name_and_round_trip(tmp_path, onto):
    assert sources_path("d/x.jsonl.gz").name == "x.sources.json"
    assert sources_path("d/x.parquet").name == "x.sources.json"
    m = _manifest(tmp_path / "x.jsonl", [{"id": "a", "labels": [CAR]}], onto, "cars", [CAR, ENGINE])
    got = read_sources(m)
    assert [s.id for s in got.sources] == ["cars"]
    assert got.sources[0].annotated == sorted([CAR, ENGINE, VEHICLE, "UTS:0000010", SOUND])
    assert read_sources(tmp_path / "none.jsonl") is None


def test_bad_sidecar_is_a_clear_error(tmp_path):
    m = tmp_path / "x.jsonl"
    sources_path(m).write_text("{not json")
    with pytest.raises(PoolError, match=r"x\.sources\.json:1: not JSON"):
        read_sources(m)
    sources_path(m).write_text(json.dumps({"format": "other"}))
    with pytest.raises(PoolError, match="not a UTS sources file"):
        read_sources(m)


def test_sampling_weights():
    counts = {"big": 100, "small": 1}
    assert sampling_weights(counts, "proportional") == pytest.approx({"big": 100 / 101, "small": 1 / 101})
    assert sampling_weights(counts, "balanced") == pytest.approx({"big": 0.5, "small": 0.5})
    assert sampling_weights(counts, "temperature", 2.0) == pytest.approx({"big": 10 / 11, "small": 1 / 11})
    assert sampling_weights(counts, "temperature", 1.0) == pytest.approx(sampling_weights(counts, "proportional"))
    with pytest.raises(PoolError, match="unknown sampling mode"):
        sampling_weights(counts, "uniform")
    with pytest.raises(PoolError, match="positive"):
        sampling_weights(counts, "temperature", 0)


def test_pool_writes_manifest_and_sidecar(tmp_path, onto, two_sources):
    res = pool_manifests(list(two_sources), tmp_path / "out" / "pool.jsonl", onto=onto, mode="balanced")
    df = pl.read_ndjson(res.manifest)
    assert df.height == 10 and set(df["source"]) == {"music-set", "car-set"}
    # relative audio paths now point where they did from the input manifest's folder
    m0 = df.filter(pl.col("id") == "m0")["audio_path"][0]
    assert m0 == str((tmp_path / "music" / "audio" / "m0.wav").resolve())
    assert df.filter(pl.col("id") == "c0")["audio_path"][0] == "/abs/c0.wav"
    side = read_sources(res.manifest)
    assert {s.id: (s.clips, s.weight) for s in side.sources} == {"music-set": (9, 0.5), "car-set": (1, 0.5)}
    assert side.sampling == {"mode": "balanced"}
    # the label space is stored once per source, not per clip
    assert "annotated" not in df.columns
    # per-clip draw probabilities: each source gets half of the draws
    w = clip_weights(df["source"].to_list(), side)
    assert sum(w) == pytest.approx(1.0)
    assert w[df["id"].to_list().index("c0")] == pytest.approx(0.5)
    # a pooled manifest can be pooled again: its sources carry over
    again, sources = load_source_manifest(res.manifest)
    assert again.height == 10 and len(sources.sources) == 2


def test_pool_refuses_clashes_and_writes_nothing(tmp_path, onto, two_sources):
    music, _ = two_sources
    other = _manifest(tmp_path / "o.jsonl", [{"id": "m0", "labels": [CAR]}], onto, "other", [CAR])
    out = tmp_path / "pool.jsonl"
    with pytest.raises(PoolError, match="clip id 'm0' occurs more than once"):
        pool_manifests([music, other], out, onto=onto)
    assert not out.exists() and not sources_path(out).exists()
    with pytest.raises(PoolError, match="source id 'music-set' occurs in more than one input"):
        pool_manifests([music, music], out, onto=onto)
    res = pool_manifests([music, other], out, onto=onto, prefix_ids=True)
    assert "other/m0" in pl.read_ndjson(res.manifest)["id"].to_list()
    with pytest.raises(PoolError, match="output must end in"):
        pool_manifests([music], tmp_path / "pool.csv", onto=onto)
    with pytest.raises(PoolError, match="manifest not found"):
        pool_manifests([tmp_path / "missing.jsonl"], out, onto=onto)


def test_manifest_without_sidecar_gets_its_space_from_its_labels(tmp_path, onto):
    bare = _manifest(tmp_path / "bare.jsonl", [{"id": "a", "labels": [SNARE]}, {"id": "b", "labels": [HIHAT]}])
    df, sources = load_source_manifest(bare, from_ontology(onto).graph)
    (s,) = sources.sources
    assert s.id == "bare" and s.inferred_space and s.mapped == [HIHAT, SNARE]
    assert set(df["source"]) == {"bare"}


def test_coverage_per_root_and_source(tmp_path, onto, two_sources):
    res = pool_manifests(list(two_sources), tmp_path / "pool.parquet", onto=onto)
    df, sources = load_source_manifest(res.manifest)
    rep = coverage(df, sources, onto)
    music, cars, pooled = (rep["sources"][k] for k in ("music-set", "car-set", "pooled"))
    # music root: music, percussion, drum, hi-hat, snare drum (active); annotated: drum, hi-hat,
    # percussion, music -> 4 of 5; sound root: 5 concepts, car-set annotates only car
    assert music["roots"][MUSIC] == {"annotated": 4, "concepts": 5, "clips": 9}
    assert music["roots"][SOUND] == {"annotated": 0, "concepts": 5, "clips": 0}
    assert cars["roots"][SOUND] == {"annotated": 1, "concepts": 5, "clips": 1}
    assert pooled["roots"][MUSIC]["annotated"] == 4 and pooled["clips"] == 10
    table = coverage_table(rep)
    assert "| music-set | 9 |" in table and "4/5 (9)" in table
    png = plot_coverage(rep, tmp_path / "cov.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_errors_are_one_line(tmp_path, onto, two_sources):
    from typer.testing import CliRunner

    from uts.cli.main import app
    from uts.ontology import save

    onto_path = tmp_path / "small.ttl"
    save(onto, onto_path)
    runner = CliRunner()
    music, cars = two_sources
    for args, message in (([str(music), "-o", str(tmp_path / "p.csv")], "output must end in"),
                          ([str(tmp_path / "none.jsonl"), "-o", str(tmp_path / "p.jsonl")], "manifest not found"),
                          ([str(music), "-o", str(tmp_path / "p.jsonl"), "--sampling", "uniform"], "unknown sampling mode")):
        res = runner.invoke(app, ["pool", *args, "--ontology", str(onto_path)])
        assert res.exit_code == 1 and message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "p.jsonl").exists()
    res = runner.invoke(app, ["pool", str(music), str(cars), "-o", str(tmp_path / "p.jsonl"),
                              "--ontology", str(onto_path), "--report", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert "10 clips from 2 sources" in res.output
    assert json.loads((tmp_path / "r.json").read_text())["sources"]["car-set"]["clips"] == 1
