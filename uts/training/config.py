"""Run recipes: YAML files in ``training/`` on top of :data:`DEFAULTS`, overridable from the
command line with dotted ``key=value`` pairs (``optim.lr=3e-4``, ``model.encoder=transformer``),
both read with OmegaConf.

A config is a plain nested dict (it is written as JSON beside every checkpoint). Unknown keys
and values of the wrong type are rejected with the list of valid keys, so a typo never trains a
silently different model. Values are parsed as YAML (``3e-4``, ``true``, ``[32, 64]``, ``null``).
OmegaConf reads and parses; the checks against :data:`DEFAULTS` (unknown keys with the valid
ones listed, types) stay ours, because OmegaConf's struct mode reports neither as clearly.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from .contrastive import TARGET_MODES
from .encoders import ENCODERS
from .objectives import ANCESTOR_MODES, OBJECTIVES
from .text import CAPTION_MODES

DEFAULTS: dict[str, Any] = {
    "data": {
        "train": None,  # flat or Lhotse manifest (path, relative to the recipe file)
        "val": None,  # optional held-out manifest, evaluated after every epoch
        "alignment": None,  # reviewed SSSOM for Lhotse input (e.g. mapping/uts-paper.sssom.tsv)
        "sample_rate": 16000,
        "clip_seconds": 2.0,  # random crop / zero pad to this length (null: whole segments)
        "batch_size": 32,  # clips per batch and per process ...
        "max_seconds": None,  # ... or audio seconds per batch (duration batching)
        "num_workers": 2,
        "num_buckets": 10,
        "source_weights": True,  # pooled manifest: draw clips by its sources' sampling weights
        "strict": False,  # refuse a manifest with entries that would be skipped (uts train --strict)
    },
    "labels": {
        "ontology": None,  # default: $UTS_ONTOLOGY or the shipped ontology/uts.ttl
        "min_count": 1,  # drop labels seen fewer times in the training manifest
    },
    "features": {"n_fft": 512, "win_length": 400, "hop_length": 160, "n_mels": 64,
                 "f_min": 50.0, "f_max": 8000.0, "norm": None, "log_offset": 1e-6},
    "specaugment": {"enabled": True, "time_masks": 2, "time_width": 20, "freq_masks": 2, "freq_width": 8},
    "model": {"encoder": "cnn10", "encoder_args": {}},
    # name: flat | hier | contrastive | caption and their combinations (hier+contrastive,
    # hier+caption, ...: see objectives.OBJECTIVES); ancestors: negative | positive | unknown; the
    # weights combine the parts (total = w_t * tagging + w_c * contrastive + w_cap * caption)
    # mask_unannotated: with a sources sidecar (pooled data), concepts outside a clip's source's
    # annotated space are left out of the tagging and contrastive losses (false: every absent
    # label is a negative); the caption loss is never masked (captions carry no label space)
    "objective": {"name": "hier", "ancestors": None, "tagging_weight": 1.0, "contrastive_weight": 1.0,
                  "caption_weight": 1.0, "mask_unannotated": True},
    "contrastive": {
        "targets": "soft",  # hard (CLIP) | soft (label-overlap targets) | mask (drop same-label negatives)
        "mask_threshold": 1.0,  # mask: label overlap (Jaccard) at or above which a pair is no negative
        "captions": "auto",  # manifest | labels (written from UTS labels) | auto (labels where missing) | tags
        "embed_dim": 256,  # joint audio-text space
        "init_temperature": 0.07, "learn_temperature": True,
    },
    "caption": {  # the captioning objective (uts.training.caption)
        "captions": "auto",  # manifest | labels | auto | tags (weak: flat tags in one template)
        "vocab_file": None,  # WordPiece vocab.txt; default: the bundled MiniLM's
        "vocabulary": "corpus",  # corpus (pieces of the training captions) | full (all 30,522)
        "pieces": None,  # the id space, filled in by training and saved with the run
        "max_length": 32,  # tokens per caption, BOS and EOS included
        "dim": 256, "depth": 2, "heads": 4, "dropout": 0.1,  # the decoder
        "label_smoothing": 0.1,
        "beam_size": 3,  # uts eval's generated captions (1 = greedy)
    },
    "text": {
        "model": None,  # transformers model folder; default: the bundled all-MiniLM-L6-v2
        "trainable": False,  # fine-tune the text tower (else frozen, its vectors cached)
        "max_length": 32,  # tokens per caption
        "lr": 2.0e-5,  # learning rate of a trainable text tower
    },
    "optim": {
        "lr": 1e-3, "weight_decay": 1e-4, "epochs": 10, "max_steps": None,
        "warmup_steps": 100, "schedule": "cosine", "grad_clip": 5.0,
    },
    "run": {
        "out": "runs/train", "seed": 0, "device": "auto", "amp": True, "amp_dtype": "bfloat16",
        "log_every": 10, "ckpt_every": 200, "keep_checkpoints": 2, "progress": True,
        "tensorboard": True, "threads": None, "threshold": 0.5,
        "overwrite": False,  # replace an earlier run in run.out (else refused: --resume it or pick a new folder)
    },
}
# Sections whose sub-keys are free-form (passed through to a builder).
FREE_FORM = {("model", "encoder_args")}


@dataclass(frozen=True)
class Range:
    """The values a numeric setting may take: ``low``/``high`` bounds (None: unbounded), each
    included unless ``*_open``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        return ((self.low is None or value > self.low or (value == self.low and not self.low_open))
                and (self.high is None or value < self.high or (value == self.high and not self.high_open)))

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


AT_LEAST_1, AT_LEAST_0, POSITIVE = Range(1), Range(0), Range(0, low_open=True)
SHARE, FRACTION = Range(0, 1), Range(0, 1, high_open=True)
# The one table of the numeric settings' ranges, checked by validate() before a run writes
# anything (else a 0 batch size or a negative lr surfaced as a torch error mid-run, or as none).
# A null, where DEFAULTS allows one, always passes.
RANGES: dict[tuple[str, str], Range] = {
    **{("data", k): AT_LEAST_1 for k in ("sample_rate", "batch_size", "num_buckets")},
    ("data", "clip_seconds"): POSITIVE, ("data", "max_seconds"): POSITIVE, ("data", "num_workers"): AT_LEAST_0,
    ("labels", "min_count"): AT_LEAST_0,
    **{("features", k): AT_LEAST_1 for k in ("n_fft", "win_length", "hop_length", "n_mels")},
    ("features", "f_min"): AT_LEAST_0, ("features", "f_max"): POSITIVE, ("features", "log_offset"): POSITIVE,
    **{("specaugment", k): AT_LEAST_0 for k in ("time_masks", "time_width", "freq_masks", "freq_width")},
    **{("objective", k): AT_LEAST_0 for k in ("tagging_weight", "contrastive_weight", "caption_weight")},
    ("contrastive", "mask_threshold"): Range(0, 1, low_open=True), ("contrastive", "embed_dim"): AT_LEAST_1,
    ("contrastive", "init_temperature"): POSITIVE,
    ("caption", "max_length"): Range(3), ("caption", "dropout"): FRACTION, ("caption", "label_smoothing"): FRACTION,
    **{("caption", k): AT_LEAST_1 for k in ("dim", "depth", "heads", "beam_size")},
    ("text", "max_length"): Range(2), ("text", "lr"): POSITIVE,
    ("optim", "lr"): POSITIVE, ("optim", "weight_decay"): AT_LEAST_0, ("optim", "max_steps"): AT_LEAST_0,
    ("optim", "warmup_steps"): AT_LEAST_0, ("optim", "grad_clip"): AT_LEAST_0,
    **{("run", k): AT_LEAST_1 for k in ("log_every", "ckpt_every", "keep_checkpoints", "threads")},
    ("run", "threshold"): SHARE,
}
PATH_KEYS = {("data", "train"), ("data", "val"), ("data", "alignment"), ("labels", "ontology"), ("text", "model"),
             ("caption", "vocab_file")}


class ConfigError(ValueError):
    pass


def _container(conf) -> Any:
    """A plain Python value (dicts and lists) from an OmegaConf node; ``${...}`` interpolations
    are resolved."""
    return OmegaConf.to_container(conf, resolve=True)


def _check(value: Any, default: Any, key: str) -> Any:
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
    else:
        ok = True
    if not ok:
        raise ConfigError(f"{key}: expected {type(default).__name__}, got {value!r}")
    return value


def merge(base: dict, update: dict, prefix: str = "") -> dict:
    """``base`` updated with ``update``; keys must exist in :data:`DEFAULTS`."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        path = f"{prefix}{key}"
        if key not in out:
            raise ConfigError(f"unknown config key {path!r}; valid keys here: {', '.join(sorted(out))}")
        parts = tuple(path.split("."))
        if isinstance(out[key], dict) and parts not in FREE_FORM:
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: expected a section (mapping), got {value!r}")
            out[key] = merge(out[key], value, path + ".")
        else:
            out[key] = _check(value, DEFAULTS_LOOKUP.get(parts), path)
    return out


def _flatten(d: dict, prefix: str = "") -> dict[tuple, Any]:
    flat = {}
    for k, v in d.items():
        key = (*prefix, k) if prefix else (k,)
        if isinstance(v, dict) and key not in FREE_FORM:
            flat.update(_flatten(v, key))
        else:
            flat[key] = v
    return flat


DEFAULTS_LOOKUP = _flatten(DEFAULTS)


def parse_override(text: str) -> dict:
    """``"optim.lr=3e-4"`` -> ``{"optim": {"lr": 0.0003}}`` (OmegaConf's dotlist grammar: values
    are YAML-like, ``{channels: [32, 64]}`` is a mapping, an empty value is null)."""
    key = text.split("=", 1)[0]
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value (e.g. optim.lr=3e-4)")
    if not all(key.strip().split(".")):
        raise ConfigError(f"override {text!r}: empty key part")
    try:
        return _container(OmegaConf.from_dotlist([text.strip()]))
    except Exception as exc:  # omegaconf raises its grammar's own errors
        raise ConfigError(f"override {text!r}: cannot parse value ({str(exc).splitlines()[0]})") from None


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Defaults <- recipe YAML <- overrides. Relative data paths in the recipe are resolved
    against the recipe's folder; those given as overrides against the current directory."""
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"recipe not found: {path}")
        try:
            recipe = _container(OmegaConf.load(path)) or {}
        except Exception as exc:  # yaml's and omegaconf's errors
            raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(recipe, dict):
            raise ConfigError(f"{path}: a recipe is a mapping of sections (data, model, ...)")
        cfg = merge(cfg, recipe)
        _resolve_paths(cfg, path.parent, only=_flatten(recipe))
    for text in overrides:
        override = parse_override(text)
        cfg = merge(cfg, override)
        _resolve_paths(cfg, Path.cwd(), only=_flatten(override))
    validate(cfg)
    return cfg


def _resolve_paths(cfg: dict, base: Path, only: dict) -> None:
    for section, key in PATH_KEYS:
        value = cfg[section][key]
        if (section, key) in only and value is not None and not Path(value).is_absolute():
            cfg[section][key] = str((base / value).resolve())


def _check_ranges(cfg: dict) -> None:
    for (section, key), allowed in RANGES.items():
        value = cfg[section][key]
        if value is not None and value not in allowed:
            raise ConfigError(f"{section}.{key} must be {allowed} (got {value!r})")
    for key, value in cfg["model"]["encoder_args"].items():  # free-form, but sizes and counts are >= 1
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, int) and not isinstance(v, bool) and v < 1:
                raise ConfigError(f"model.encoder_args.{key} must hold sizes >= 1 (got {value!r})")
        if key == "dropout" and isinstance(value, (int, float)) and value not in FRACTION:
            raise ConfigError(f"model.encoder_args.dropout must be {FRACTION} (got {value!r})")
    f, sample_rate = cfg["features"], cfg["data"]["sample_rate"]
    if f["win_length"] > f["n_fft"]:
        raise ConfigError(f"features.win_length ({f['win_length']}) must be <= features.n_fft ({f['n_fft']})")
    f_max = sample_rate / 2 if f["f_max"] is None else f["f_max"]
    if not f["f_min"] < f_max <= sample_rate / 2:
        raise ConfigError(f"features: need f_min < f_max <= data.sample_rate / 2 (got f_min {f['f_min']:g}, "
                          f"f_max {f_max:g}, sample_rate {sample_rate})")


def validate(cfg: dict) -> None:
    """Each numeric setting against :data:`RANGES`, then the cross-field checks that single
    types cannot express."""
    _check_ranges(cfg)
    d, o, r = cfg["data"], cfg["optim"], cfg["run"]
    if (d["batch_size"] is None) == (d["max_seconds"] is None):
        raise ConfigError("set exactly one of data.batch_size and data.max_seconds "
                          "(set the other to null)")
    if cfg["model"]["encoder"] not in ENCODERS:
        raise ConfigError(f"model.encoder {cfg['model']['encoder']!r} unknown; choose from {', '.join(sorted(ENCODERS))}")
    if cfg["objective"]["name"] not in OBJECTIVES:
        raise ConfigError(f"objective.name must be one of {', '.join(OBJECTIVES)}")
    ob, c = cfg["objective"], cfg["contrastive"]
    weights = {"tagging": ob["tagging_weight"], "contrastive": ob["contrastive_weight"], "caption": ob["caption_weight"]}
    parts = objective_parts(ob["name"])
    if len(parts) > 1 and not any(weights[p] > 0 for p in parts):
        raise ConfigError(f"objective {ob['name']} needs a positive weight for at least one of its parts")
    cap = cfg["caption"]
    if cap["captions"] not in CAPTION_MODES:
        raise ConfigError(f"caption.captions must be one of {', '.join(CAPTION_MODES)}")
    if cap["vocabulary"] not in ("corpus", "full"):
        raise ConfigError("caption.vocabulary must be corpus or full")
    if cap["dim"] % cap["heads"]:
        raise ConfigError(f"caption.dim ({cap['dim']}) must be a multiple of heads (caption.heads {cap['heads']})")
    if "caption" in parts and cap["vocab_file"] is not None and not Path(cap["vocab_file"]).is_file():
        raise ConfigError(f"caption.vocab_file: {cap['vocab_file']} does not exist")
    if c["targets"] not in TARGET_MODES:
        raise ConfigError(f"contrastive.targets must be one of {', '.join(TARGET_MODES)}")
    if c["captions"] not in CAPTION_MODES:
        raise ConfigError(f"contrastive.captions must be one of {', '.join(CAPTION_MODES)}")
    if "contrastive" in ob["name"] and cfg["text"]["model"] is not None \
            and not (Path(cfg["text"]["model"]) / "config.json").is_file():
        raise ConfigError(f"text.model: {cfg['text']['model']} is not a transformers model folder (no config.json)")
    if cfg["objective"]["ancestors"] not in (None, *ANCESTOR_MODES):
        raise ConfigError(f"objective.ancestors must be one of {', '.join(ANCESTOR_MODES)} (or null for the default)")
    if o["schedule"] not in ("cosine", "constant"):
        raise ConfigError("optim.schedule must be cosine or constant")
    if o["epochs"] < 1 and not o["max_steps"]:
        raise ConfigError("optim.epochs must be >= 1 (or set optim.max_steps)")
    if r["device"] not in ("auto", "cpu", "cuda"):
        raise ConfigError("run.device must be auto, cpu or cuda")
    if r["amp_dtype"] not in ("bfloat16", "float16"):
        raise ConfigError("run.amp_dtype must be bfloat16 or float16")


def objective_parts(name: str) -> list[str]:
    """``"hier+caption"`` -> ``["tagging", "caption"]``: the losses an objective trains."""
    parts = name.split("+")
    return [("tagging" if p in ("flat", "hier") else p) for p in parts]


def to_json(cfg: dict) -> str:
    return json.dumps(cfg, indent=2, sort_keys=True)


def read_run_config(path: Path, error: type[Exception]) -> dict:
    """A run's ``config.json`` (``config``, ``labels``, ``hierarchy``); ``error`` names the file
    and the line where it is not that."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); expected the "
                    "config.json that uts train writes") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg}); expected the config.json "
                    "that uts train writes") from None
    missing = [k for k in ("config", "labels") if not isinstance(saved, dict) or k not in saved]
    if missing or not isinstance(saved["config"], dict) or not isinstance(saved["labels"], list):
        raise error(f"{path}: not a run's config.json (expected an object with 'config' (an object) "
                    "and 'labels' (a list))")
    return saved
