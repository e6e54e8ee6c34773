"""Shared helpers for the training tests: a small ontology that the synthetic corpus generator
can label (music and environmental sound), tiny corpora and tiny, fast recipes."""

from __future__ import annotations

from pathlib import Path

from uts.ontology import Concept, Ontology, save

# id number, label, parents, domain
TREE = [
    (1, "music", [], "music"), (2, "musical instrument", [1], "music"),
    (3, "piano", [2], "music"), (4, "guitar", [2], "music"), (5, "bass guitar", [4], "music"),
    (6, "organ", [2], "music"), (7, "violin", [2], "music"), (8, "drum", [2], "music"),
    (9, "kick drum", [8], "music"), (10, "snare drum", [8], "music"), (11, "hi-hat", [8], "music"),
    (20, "sound", [], "sound"), (21, "weather", [20], "sound"), (22, "rain", [21], "sound"),
    (23, "wind", [21], "sound"), (24, "vehicle", [20], "sound"), (25, "engine", [24], "sound"),
    (26, "alarm", [20], "sound"), (27, "siren", [26], "sound"), (28, "water", [20], "sound"),
    (29, "animal", [20], "sound"), (30, "dog", [29], "sound"), (31, "bark", [30], "sound"),
    (32, "bird", [29], "sound"),
]


def uid(n: int) -> str:
    return f"UTS:{n:07d}"


def tiny_ontology() -> Ontology:
    return Ontology([Concept(uid(n), label, parents=[uid(p) for p in ps], domain=dom, root=not ps)
                     for n, label, ps, dom in TREE])


def write_ontology(tmp: Path) -> Path:
    path = tmp / "tiny.ttl"
    save(tiny_ontology(), path)
    return path


def tiny_corpus(tmp: Path, n: int = 24, labels: str = "leaf-only", seed: int = 0, seconds: float = 1.0,
                name: str = "corpus") -> Path:
    from uts.synth import SynthConfig, synthesize

    res = synthesize(tmp / name, tiny_ontology(), SynthConfig(
        n=n, seed=seed, sample_rate=16000, seconds=seconds, label_mode=labels,
        exclude_domains=("speech",), max_sources=2))
    return res.manifest


def tiny_overrides(tmp: Path, manifest: Path, out: Path, onto_path: Path, **extra) -> list[str]:
    values = {
        "data.train": str(manifest), "data.sample_rate": 8000, "data.clip_seconds": 1.0,
        "data.batch_size": 4, "data.num_workers": 0,
        "labels.ontology": str(onto_path),
        "features.n_fft": 256, "features.win_length": 200, "features.hop_length": 100,
        "features.n_mels": 16, "features.f_max": 4000.0,
        "specaugment.time_width": 5, "specaugment.freq_width": 3,
        "model.encoder": "cnn6", "model.encoder_args": "{channels: [4, 8]}",
        "optim.epochs": 2, "optim.warmup_steps": 2, "run.out": str(out), "run.progress": False,
        "run.tensorboard": False, "run.log_every": 2, "run.ckpt_every": 4,
    }
    values.update(extra)
    return [f"{k}={v}" for k, v in values.items()]


def tiny_demo_recipe(tmp: Path, **sections) -> Path:
    """A recipe file for `run_demo` at toy size; ``sections`` add or replace recipe sections."""
    import yaml

    recipe = {
        "data": {"sample_rate": 8000, "clip_seconds": 1.0, "batch_size": 8, "num_workers": 0},
        "features": {"n_fft": 256, "win_length": 200, "hop_length": 100, "n_mels": 16, "f_max": 4000.0},
        "model": {"encoder": "cnn6", "encoder_args": {"channels": [4, 8]}},
        "optim": {"epochs": 1, "max_steps": 4, "warmup_steps": 1},
        "run": {"progress": False, "tensorboard": False, "log_every": 2, "ckpt_every": 4},
        **sections,
    }
    path = tmp / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path
