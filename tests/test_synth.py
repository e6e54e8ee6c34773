"""The synthetic corpus: valid clips, label semantics per label mode, domain exclusion, speech
backends, clear failures. Tests use their own small ontology that names every table entry."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import soundfile as sf
from typer.testing import CliRunner

from uts.ontology import Concept, Ontology, save
from uts.synth import corpus as S
from uts.training.data import read_manifest, validate_manifest
from uts.synth import SynthConfig, SynthError, closure, most_specific, synthesize

# (label, parent labels, domain)
TREE = [
    ("speech", [], "speech"), ("speaker trait", ["speech"], "speech"),
    ("male speaker", ["speaker trait"], "speech"), ("female speaker", ["speaker trait"], "speech"),
    ("spoken language", ["speech"], "speech"),
    *[(lang, ["spoken language"], "speech") for lang in ("English", "French", "German", "Spanish", "Italian")],
    ("music", [], "music"), ("musical instrument", ["music"], "music"),
    ("keyboard instrument", ["musical instrument"], "music"), ("piano", ["keyboard instrument"], "music"),
    ("organ", ["keyboard instrument"], "music"), ("guitar", ["musical instrument"], "music"),
    ("acoustic guitar", ["guitar"], "music"), ("bass guitar", ["guitar"], "music"),
    ("violin", ["musical instrument"], "music"), ("percussion", ["musical instrument"], "music"),
    ("drum", ["percussion"], "music"), ("kick drum", ["drum"], "music"), ("snare drum", ["drum"], "music"),
    ("hi-hat", ["percussion"], "music"),
    ("environmental sound", [], "sound"), ("natural sound", ["environmental sound"], "sound"),
    ("rain", ["natural sound"], "sound"), ("wind", ["natural sound"], "sound"),
    ("water", ["natural sound"], "sound"), ("stream", ["water"], "sound"),
    ("sound of things", ["environmental sound"], "sound"), ("engine", ["sound of things"], "sound"),
    ("siren", ["sound of things"], "sound"), ("alarm", ["sound of things"], "sound"),
    ("animal sound", ["environmental sound"], "sound"), ("dog", ["animal sound"], "sound"),
    ("bark", ["dog"], "sound"), ("bird", ["animal sound"], "sound"),
]


def make_onto(skip: tuple[str, ...] = ()) -> Ontology:
    ids = {label: f"UTS:{i + 1:07d}" for i, (label, _, _) in enumerate(TREE)}
    return Ontology([
        Concept(ids[label], label, parents=[ids[p] for p in parents], domain=domain, root=not parents)
        for label, parents, domain in TREE if label not in skip
    ])


@pytest.fixture(scope="module")
def onto() -> Ontology:
    return make_onto()


def _ids_under(onto: Ontology, label: str) -> set[str]:
    root = onto.resolve(label).id
    return onto.descendants(root) | {root}


def _corpus(tmp_path, onto, **kw):
    cfg = SynthConfig(**{"n": 24, "seed": 3, "speech_backend": "numpy", **kw})
    result = synthesize(tmp_path / "c", onto, cfg)
    return result, read_manifest(result.manifest)


def test_writes_n_valid_clips_with_closed_true_labels(tmp_path, onto):
    result, df = _corpus(tmp_path, onto, n=30, seconds=1.5, sample_rate=22050)
    assert df.height == 30 and df["id"].n_unique() == 30
    good, report = validate_manifest(df)
    assert report.skipped == 0 and good.height == 30
    for row in df.iter_rows(named=True):
        x, sr = sf.read(row["audio_path"])
        assert sr == 22050 and len(x) == int(1.5 * 22050) and np.isfinite(x).all()
        assert 0.01 < np.abs(x).max() <= 1.0
        truth = row["labels_complete"]
        assert truth == closure(onto, truth)  # closed over ancestors
        assert row["labels"] == truth  # complete mode
        assert 1 <= len(row["sources"]) <= 3 and row["caption"].endswith(".")
    # The truth labels follow the sources: every piano clip is labelled piano (and keyboard...).
    piano = onto.resolve("piano").id
    for sources, truth in zip(df["sources"].to_list(), df["labels_complete"].to_list()):
        assert ("piano" in sources) == (piano in truth)
    meta = json.loads((result.out_dir / "synth.json").read_text())
    assert meta["labels"]["piano"]["id"] == piano


def test_every_domain_and_mixture_size_occurs(tmp_path, onto):
    _, df = _corpus(tmp_path, onto, n=60)
    assert {d for ds in df["domains"].to_list() for d in ds} == {"speech", "music", "sound"}
    assert {len(s) for s in df["sources"].to_list()} == {1, 2, 3}


def test_leaf_only_keeps_just_the_most_specific_labels(tmp_path, onto):
    _, df = _corpus(tmp_path, onto, label_mode="leaf-only")
    for given, truth in zip(df["labels"].to_list(), df["labels_complete"].to_list()):
        assert given == most_specific(onto, truth)
        assert closure(onto, given) == truth  # nothing lost but ancestors
        assert not any(onto.ancestors(a) & set(given) for a in given)
        assert len(given) < len(truth)


def test_dropped_labels_are_a_subset_at_about_the_rate(tmp_path, onto):
    _, df = _corpus(tmp_path, onto, n=60, label_mode="dropped", drop_rate=0.5)
    kept = total = 0
    for given, truth in zip(df["labels"].to_list(), df["labels_complete"].to_list()):
        assert set(given) <= set(truth)
        kept, total = kept + len(given), total + len(truth)
    assert 0.35 < kept / total < 0.65


def test_wrong_labels_replace_truth_with_other_source_concepts(tmp_path, onto):
    result, df = _corpus(tmp_path, onto, label_mode="wrong", wrong_rate=1.0)
    pool = set(result.labels.values())
    for given, truth in zip(df["labels"].to_list(), df["labels_complete"].to_list()):
        assert not set(given) & set(truth)
        assert set(given) <= pool
    _, none_wrong = _corpus(tmp_path / "zero", onto, label_mode="wrong", wrong_rate=0.0)
    assert none_wrong["labels"].to_list() == none_wrong["labels_complete"].to_list()


@pytest.mark.parametrize("excluded", [("speech",), ("music", "sound")])
def test_excluded_domains_never_appear(tmp_path, onto, excluded):
    _, df = _corpus(tmp_path, onto, exclude_domains=excluded, n=30)
    roots = {"speech": "speech", "music": "music", "sound": "environmental sound"}
    banned = set().union(*(_ids_under(onto, roots[d]) for d in excluded))
    for domains, truth in zip(df["domains"].to_list(), df["labels_complete"].to_list()):
        assert not set(domains) & set(excluded)
        assert not set(truth) & banned


def test_same_seed_same_corpus_other_seed_differs(tmp_path, onto):
    a, da = _corpus(tmp_path / "a", onto, n=8)
    b, db = _corpus(tmp_path / "b", onto, n=8)
    c, dc = _corpus(tmp_path / "c", onto, n=8, seed=4)
    assert da.drop("audio_path").equals(db.drop("audio_path"))
    assert (a.out_dir / "audio/synth-000005.wav").read_bytes() == (b.out_dir / "audio/synth-000005.wav").read_bytes()
    assert not da["sources"].equals(dc["sources"])


def test_missing_labels_fail_with_the_list_and_write_nothing(tmp_path):
    partial = make_onto(skip=("violin", "fiddle", "siren"))
    with pytest.raises(SynthError) as err:
        synthesize(tmp_path / "x", partial, SynthConfig(n=4, speech_backend="numpy"))
    assert "violin" in str(err.value) and "siren" in str(err.value)
    assert "\n" not in str(err.value)  # one line, as every error (it was ten)
    assert not (tmp_path / "x" / "manifest.jsonl").exists()
    # Opting in leaves those sources out and says so.
    result = synthesize(tmp_path / "y", partial, SynthConfig(n=30, speech_backend="numpy", skip_missing_labels=True))
    assert set(result.skipped_keys) == {"violin", "siren"}
    sources = {s for ss in pl.read_ndjson(result.manifest)["sources"].to_list() for s in ss}
    assert not sources & {"violin", "siren"}


def test_drum_patterns_play_only_the_drums_the_ontology_names(tmp_path):
    partial = make_onto(skip=("kick drum",))
    cfg = SynthConfig(n=30, speech_backend="numpy", skip_missing_labels=True, exclude_domains=("speech", "sound"))
    result = synthesize(tmp_path / "d", partial, cfg)
    assert set(result.skipped_keys) == {"kick"}
    df = pl.read_ndjson(result.manifest)
    drums = [truth for src, truth in zip(df["sources"].to_list(), df["labels_complete"].to_list()) if "drums" in src]
    snare, hihat = partial.resolve("snare drum").id, partial.resolve("hi-hat").id
    assert drums and all(set(t) & {snare, hihat} for t in drums)


def test_label_table_prefers_the_first_resolvable_label():
    resolved, problems = S.resolve_labels(make_onto(skip=("acoustic guitar",)), ["guitar", "water"])
    onto = make_onto()
    assert not problems
    assert resolved["guitar"] == onto.resolve("guitar").id  # fell back from "acoustic guitar"
    assert resolved["water"] == onto.resolve("stream").id  # the more specific label wins


def test_bad_options_are_rejected(tmp_path, onto):
    for kw in ({"n": 0}, {"label_mode": "noisy"}, {"drop_rate": 1.5}, {"exclude_domains": ("speech", "music", "sound")},
               {"exclude_domains": ("birds",)}, {"max_sources": 4}):
        with pytest.raises(SynthError):
            synthesize(tmp_path / "bad", onto, SynthConfig(**kw))
    _corpus(tmp_path, onto, n=2)
    with pytest.raises(SynthError, match="exists"):
        _corpus(tmp_path, onto, n=2)


def test_overwrite_replaces_the_corpus_without_stale_clips(tmp_path, onto):
    _corpus(tmp_path, onto, n=5)
    result = synthesize(tmp_path / "c", onto, SynthConfig(n=3, speech_backend="numpy"), overwrite=True)
    assert sorted(p.name for p in (result.out_dir / "audio").iterdir()) == [f"synth-00000{i}.wav" for i in range(3)]
    assert read_manifest(result.manifest).height == 3


def _fake_espeak(fail: set[str]):
    def speak(text, voice, speed, pitch):
        if voice.split("+")[0] in fail:
            raise SynthError(f"no voice {voice}")
        return np.sin(np.arange(22050) * 0.05).astype(np.float32), 22050
    return speak


def test_languages_espeak_cannot_speak_are_left_out(tmp_path, onto, monkeypatch):
    monkeypatch.setattr(S, "espeak_available", lambda: True)
    monkeypatch.setattr(S, "_espeak", _fake_espeak({"it", "de"}))
    result, df = _corpus(tmp_path, onto, n=30, speech_backend="espeak", exclude_domains=("music", "sound"))
    assert result.speech_languages == ["en", "es", "fr"] and set(result.speech_failures) == {"de", "it"}
    banned = {onto.resolve("Italian").id, onto.resolve("German").id}
    assert not any(set(t) & banned for t in df["labels_complete"].to_list())
    assert json.loads((result.out_dir / "synth.json").read_text())["speech_failures"].keys() == {"de", "it"}


def test_espeak_failing_everywhere_falls_back_only_when_auto(tmp_path, onto, monkeypatch):
    monkeypatch.setattr(S, "espeak_available", lambda: True)
    monkeypatch.setattr(S, "_espeak", _fake_espeak(set(S.LANGUAGES)))
    with pytest.raises(SynthError, match="could not speak"):
        _corpus(tmp_path / "a", onto, n=4, speech_backend="espeak")
    result, df = _corpus(tmp_path / "b", onto, n=20, speech_backend="auto", exclude_domains=("music", "sound"))
    assert result.speech_backend == "numpy" and result.speech_languages == []
    languages = _ids_under(onto, "spoken language")
    assert not any(set(t) & languages for t in df["labels_complete"].to_list())  # babble claims no language


def _f0(x: np.ndarray, sr: int) -> float:
    """Fundamental by autocorrelation over 60-400 Hz."""
    x = x - x.mean()
    ac = np.correlate(x, x, "full")[len(x) - 1:]
    lo, hi = sr // 400, sr // 60
    return sr / (lo + int(np.argmax(ac[lo:hi])))


def test_numpy_speech_fallback_is_voiced_at_a_gendered_pitch():
    sr, n = 16000, 16000
    rng = np.random.default_rng(0)
    male = S._formant_speech(rng, n, sr, "male")
    female = S._formant_speech(rng, n, sr, "female")
    seg = slice(2000, 6000)
    assert 80 < _f0(male[seg], sr) < 160
    assert 170 < _f0(female[seg], sr) < 290
    pool = S.SpeechPool.build(sr, "numpy")
    x, keys, caption = S._speech(np.random.default_rng(1), n, sr, {"speech_pool": pool})
    assert keys[:1] == ["speech"] and keys[1] in ("male", "female") and len(keys) == 2  # no language claimed
    assert np.isfinite(x).all() and np.abs(x).max() > 0


@pytest.mark.skipif(not S.espeak_available(), reason="espeak-ng is not installed")
def test_espeak_speech_in_five_languages_and_two_genders(tmp_path, onto):
    pool = S.SpeechPool.build(16000, "espeak")
    assert set(pool.utterances) == {(lang, g) for lang in S.LANGUAGES for g in ("male", "female")}
    assert all(len(u) > 8000 for us in pool.utterances.values() for u in us)  # > 0.5 s each
    result, df = _corpus(tmp_path, onto, n=40, speech_backend="espeak", exclude_domains=("music", "sound"))
    assert result.speech_backend == "espeak"
    languages = {onto.resolve(lang).id for lang in ("English", "French", "German", "Spanish", "Italian")}
    seen = set()
    for truth, caption in zip(df["labels_complete"].to_list(), df["caption"].to_list()):
        langs = set(truth) & languages
        assert len(langs) == 1 and "talking in" in caption
        seen |= langs
    assert len(seen) >= 4


@pytest.mark.parametrize("name", sorted({g for gens in S.GENERATORS.values() for g in gens} - {"speech"}))
def test_each_generator_gives_a_finite_audible_signal(name):
    domain = next(d for d, g in S.GENERATORS.items() if name in g)
    for sr in (16000, 44100):
        x, keys, caption = S.GENERATORS[domain][name](np.random.default_rng(0), sr, sr, {})
        assert len(x) >= sr and np.isfinite(x).all() and np.sqrt(np.mean(np.square(x[:sr]))) > 1e-3
        assert set(keys) <= set(S.LABEL_TABLE) and caption


def test_siren_sweeps_in_the_siren_band():
    sr = 16000
    x, _, _ = S._siren(np.random.default_rng(0), 2 * sr, sr, {})
    spectrum = np.abs(np.fft.rfft(x))
    peak = np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spectrum)]
    assert 500 < peak < 1400


def test_cli_writes_corpus_and_fails_cleanly(tmp_path, onto):
    from uts.cli.main import app

    onto_path = save(onto, tmp_path / "o.ttl")
    runner = CliRunner()
    ok = runner.invoke(app, ["synth", "--out", str(tmp_path / "c"), "-n", "5", "--labels", "leaf-only",
                             "--speech", "numpy", "--ontology", str(onto_path), "--exclude-domain", "music"])
    assert ok.exit_code == 0, ok.output
    assert "wrote 5 clips" in ok.output
    assert read_manifest(tmp_path / "c" / "manifest.jsonl").height == 5
    again = runner.invoke(app, ["synth", "--out", str(tmp_path / "c"), "-n", "5", "--ontology", str(onto_path)])
    assert again.exit_code == 1 and "exists" in again.output and "Traceback" not in again.output
    missing = runner.invoke(app, ["synth", "--out", str(tmp_path / "d"), "--ontology", str(save(make_onto(skip=("rain",)), tmp_path / "p.ttl"))])
    assert missing.exit_code == 1 and "rain" in missing.output
