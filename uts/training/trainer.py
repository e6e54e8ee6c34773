"""The training loop: single process or ``torchrun`` DDP, mixed precision on GPU, exact resume.

Run layout (``run.out``)::

    config.json          resolved recipe + label ids + hierarchy edges (everything to rebuild the model)
    labels.json          the label space (LabelSpace.save)
    checkpoints/step_00000200.safetensors   model + optimizer + scheduler + RNG + data position
    model.safetensors    final weights (what ``uts eval`` loads), config.json beside it
    metrics.csv          one row per log interval (train) and per epoch (val)
    tensorboard/         the same scalars for TensorBoard
    data_report.json     entries skipped while validating the manifest or decoding audio

Exact resume: batch order and crops depend only on ``(seed, epoch, index)`` (see
:mod:`uts.training.data`), and the checkpoint holds every process's RNG state, the optimizer and
scheduler, and the position in the epoch -- so a run killed mid-way and resumed from its last
checkpoint ends with the same weights as one that never stopped (tests/test_training_resume.py).
"""

from __future__ import annotations

import csv
import gc
import json
import math
import os
import random
import shutil
import sys
import time
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from safetensors import safe_open
from safetensors.torch import save_file

from uts.ontology import load
from uts.ontology.files import atomic_write_with

from .caption_eval import zero_shot_caption_scores
from .config import DEFAULTS, load_config, merge, parse_override, read_run_config, to_json, validate
from .encoders import build_model, count_parameters
from .hierarchy import Hierarchy
from .contrastive import MAX_LOGIT_SCALE, gather_features
from .data import (BadEntryReport, ClipDataset, LabelSpace, ManifestError, is_shar, make_loader, make_shar_loader,
                   read_manifest, read_shar, validate_manifest)
from .evaluate import predict
from .metrics import hierarchical_report
from .objectives import Objective
from .pooling import pooled_sources, save_run_sources
from .report import training_curves
from .text import fill_captions
from .tokenizer import CaptionTokenizer
from .zeroshot import zero_shot_scores

CHECKPOINT_FORMAT = "uts-checkpoint/1"
CSV_FIELDS = ["step", "epoch", "split", "loss", "lr", "macro_map", "parent_map", "violation_rate",
              "seconds"]


class TrainError(RuntimeError):
    """A run cannot start or continue (bad data, nothing to resume, ...)."""


# -- distributed setup -----------------------------------------------------------------------
class Dist:
    """Rank / world size from torchrun's environment; device; process group."""

    def __init__(self, device_pref: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = device_pref == "cuda" or (device_pref == "auto" and torch.cuda.is_available())
        if cuda and not torch.cuda.is_available():
            raise TrainError("run.device is cuda but no CUDA device is available")
        self.device = torch.device(f"cuda:{local}" if cuda else "cpu")
        if cuda:
            torch.cuda.set_device(self.device)
        self.enabled = self.world > 1
        if self.enabled and not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def mean(self, value: float) -> float:
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t) / self.world

    def gather(self, obj):
        if not self.enabled:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            # The DDP wrapper and finished gloo work objects keep the process group (and
            # tensors) alive through reference cycles; left to interpreter shutdown, their C++
            # destructors run without a live interpreter and can abort the process after a
            # successful run. Collect them now, then tear the group down.
            gc.collect()
            dist.destroy_process_group()
            gc.collect()


# -- RNG state -------------------------------------------------------------------------------
def capture_rng() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# -- checkpoints -----------------------------------------------------------------------------
def _json_safe(x):
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer, scheduler, scaler,
                    rng_states: list[dict], position: dict) -> None:
    """Everything needed to continue, flattened into one safetensors file (tensors) with JSON
    metadata (scalars). Written to a temporary name and renamed, so a crash never leaves a
    half-written checkpoint."""
    tensors: dict[str, torch.Tensor] = {}
    for k, v in model.weights().items():
        tensors[f"model.{k}"] = v.detach().cpu().contiguous().clone()
    opt = optimizer.state_dict()
    scalar_state: dict[str, dict] = {}
    for pid, st in opt["state"].items():
        for name, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optim.{pid}.{name}"] = v.detach().cpu().contiguous().clone()
            else:
                scalar_state.setdefault(str(pid), {})[name] = v
    rng_meta = []
    for rank, st in enumerate(rng_states):
        tensors[f"rng.{rank}.torch"] = st["torch"].clone()
        for i, c in enumerate(st.get("cuda", [])):
            tensors[f"rng.{rank}.cuda.{i}"] = c.clone()
        kind, keys, pos, has_gauss, gauss = st["numpy"]
        tensors[f"rng.{rank}.numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
        rng_meta.append({"python": _json_safe(st["python"]), "numpy": [kind, int(pos), int(has_gauss), float(gauss)],
                         "cuda_devices": len(st.get("cuda", []))})
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "position": json.dumps(position),
        "optim_param_groups": json.dumps(_json_safe(opt["param_groups"])),
        "optim_scalar_state": json.dumps(_json_safe(scalar_state)),
        "scheduler": json.dumps(_json_safe(scheduler.state_dict())),
        "scaler": json.dumps(_json_safe(scaler.state_dict())),
        "rng": json.dumps(rng_meta),
    }
    atomic_write_with(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def _not_a_checkpoint(path: Path, exc: Exception) -> TrainError:
    return TrainError(f"cannot read checkpoint {path}: not a safetensors file ({exc}); expected a run "
                      "folder or one of its checkpoints/step_NNNNNNNN.safetensors, as uts train writes them")


def checkpoint_metadata(path: Path) -> dict:
    """The metadata of a UTS checkpoint, read without its tensors (cheap; refuses anything else)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:
        raise _not_a_checkpoint(path, exc) from None
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise TrainError(f"{path} is not a UTS training checkpoint")
    return meta


def load_checkpoint(path: Path) -> dict:
    """Inverse of :func:`save_checkpoint`: ``model``, ``optimizer``, ``scheduler``, ``scaler``,
    ``rng`` (one state per rank) and ``position``."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise _not_a_checkpoint(path, exc) from None
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise TrainError(f"{path} is not a UTS training checkpoint")
    model = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    state: dict[int, dict] = {int(pid): dict(v) for pid, v in json.loads(meta["optim_scalar_state"]).items()}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    rngs = []
    for rank, rm in enumerate(json.loads(meta["rng"])):
        py = rm["python"]
        kind, pos, has_gauss, gauss = rm["numpy"]
        st = {"torch": tensors[f"rng.{rank}.torch"],
              "python": (py[0], tuple(py[1]), py[2]),
              "numpy": (kind, tensors[f"rng.{rank}.numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss)}
        if rm["cuda_devices"]:
            st["cuda"] = [tensors[f"rng.{rank}.cuda.{i}"] for i in range(rm["cuda_devices"])]
        rngs.append(st)
    return {"model": model,
            "optimizer": {"state": state, "param_groups": json.loads(meta["optim_param_groups"])},
            "scheduler": json.loads(meta["scheduler"]), "scaler": json.loads(meta["scaler"]),
            "rng": rngs, "position": json.loads(meta["position"])}


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = sorted((run_dir / "checkpoints").glob("step_*.safetensors"))
    return found[-1] if found else None


# -- helpers ---------------------------------------------------------------------------------
def make_schedule(optimizer, cfg: dict, total_steps: int):
    warmup = max(0, int(cfg["optim"]["warmup_steps"]))
    cosine = cfg["optim"]["schedule"] == "cosine"

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if not cosine:
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class CsvLog:
    """Append-only CSV of scalars; on resume, rows past the checkpoint's step are dropped."""

    def __init__(self, path: Path, keep_until_step: int | None = None):
        self.path = path
        rows = []
        if keep_until_step is not None and path.exists():
            with path.open(newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= keep_until_step]
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, **row) -> None:
        with self.path.open("a", newline="") as fh:
            csv.DictWriter(fh, fieldnames=CSV_FIELDS).writerow({k: row.get(k, "") for k in CSV_FIELDS})


def _iter_rng_neutral(loader):
    """``iter(loader)`` draws a worker base seed from torch's global RNG; keep that draw out of
    the training RNG stream so an epoch started on resume does not shift it."""
    state = torch.get_rng_state()
    it = iter(loader)
    torch.set_rng_state(state)
    return it


def prepare_data(cfg: dict, onto=None, label_ids: list[str] | None = None, progress: bool = False):
    """Read and validate the training manifest; build (or reuse) the label space and hierarchy."""
    if not cfg["data"]["train"]:
        raise TrainError("no training manifest: set data.train in the recipe or with --set data.train=PATH")
    try:
        onto = onto or load(cfg["labels"]["ontology"])
        if is_shar(cfg["data"]["train"]):  # audio inside the shards, checked when decoded
            df = read_shar(cfg["data"]["train"], onto)
            report = BadEntryReport(checked=df.height)
        else:
            df = read_manifest(cfg["data"]["train"], onto=onto, alignment=cfg["data"]["alignment"])
            df, report = validate_manifest(df, progress=progress)
    except (ManifestError, FileNotFoundError) as exc:
        raise TrainError(str(exc)) from None
    report.as_skipped().check(cfg["data"]["strict"], cfg["data"]["train"])
    if df.height == 0:
        raise TrainError(f"no usable clips in {cfg['data']['train']} ({report.summary()})")
    if label_ids is None:
        try:
            space = LabelSpace.from_manifest(df, onto, min_count=cfg["labels"]["min_count"])
        except ManifestError as exc:
            raise TrainError(str(exc)) from None
    else:
        space = LabelSpace(label_ids)
    if not len(space):
        train = cfg["data"]["train"]
        if report.unmapped_tags:  # labels as text ("piano"): they are there, but not as UTS ids
            examples = ", ".join(repr(t) for t, _ in report.unmapped_tags.most_common(3))
            raise TrainError(f"{train}: no label is a UTS concept id ({examples} ...); map the labels first: "
                             "uts map apply FILE -m MAPPING.sssom.tsv -o manifest.jsonl")
        raise TrainError(f"{train}: no clip has a label")
    return onto, df, report, space, Hierarchy.from_ontology(onto, space.ids)


def _pooled(cfg: dict, df, space, main: bool):
    """The training manifest's sources (None without a sidecar), announced on the console."""
    try:
        pooled = pooled_sources(cfg["data"]["train"], df, space.ids)
    except ValueError as exc:
        raise TrainError(str(exc)) from None
    if pooled and main:
        o, d = cfg["objective"], cfg["data"]
        print(f"pooled data: {len(pooled.ids)} source(s) ({', '.join(pooled.ids)}); "
              f"unannotated concepts {'masked' if o['mask_unannotated'] else 'NOT masked (objective.mask_unannotated=false)'}; "
              f"clips drawn {'by source weight' if d['source_weights'] else 'once per epoch'}")
    return pooled


def build_optimizer(model, cfg: dict):
    """AdamW. Tagging-only models: one group. With a text tower: the audio side, a trainable
    text tower at ``text.lr``, and the logit scale without weight decay (as CLIP)."""
    o = cfg["optim"]
    if getattr(model, "text", None) is None:
        return torch.optim.AdamW(model.parameters(), lr=o["lr"], weight_decay=o["weight_decay"])
    text = [p for p in model.text.parameters() if p.requires_grad]
    text_ids = {id(p) for p in text} | {id(model.logit_scale)}
    audio = [p for p in model.parameters() if p.requires_grad and id(p) not in text_ids]
    groups = [{"params": audio}]
    if text:
        groups.append({"params": text, "lr": cfg["text"]["lr"]})
    if model.logit_scale.requires_grad:
        groups.append({"params": [model.logit_scale], "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=o["lr"], weight_decay=o["weight_decay"])


# -- the loop --------------------------------------------------------------------------------
RUN_FILES = ("config.json", "model.safetensors", "checkpoints", "metrics.csv")


def claim_run_dir(run_dir: Path, overwrite: bool = False) -> None:
    """A new run needs a folder of its own. One holding an earlier run is refused: the new model
    would replace the old, its later checkpoints would stay, and ``--resume`` would then bring
    back the old weights under the new config. ``overwrite`` clears it first (on the first
    process only; the others find it gone or still there, and neither refuses). A non-empty
    folder that holds no run is never cleared."""
    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        return
    if not any((run_dir / name).exists() for name in RUN_FILES):
        raise TrainError(f"{run_dir} is not empty and holds no run; choose a new or empty run folder (--out)")
    if not overwrite:
        raise TrainError(f"{run_dir} already holds a run; continue it with `uts train --resume {run_dir}`, choose "
                         "a new --out, or pass --overwrite to replace it")
    if int(os.environ.get("RANK", "0")) == 0:
        shutil.rmtree(run_dir)


def train(cfg: dict | None = None, resume: str | Path | None = None, overrides: tuple[str, ...] = (),
          on_step: Callable[[int], None] | None = None, onto=None) -> Path:
    """Train according to ``cfg`` (or continue the run in ``resume``); returns the run folder.

    ``on_step(step)`` is called after every optimizer step (tests use it to simulate a crash).
    """
    if resume is not None:
        run_dir = Path(resume)
        if not (run_dir / "config.json").is_file():
            raise TrainError(f"nothing to resume: {run_dir}/config.json not found")
        saved = read_run_config(run_dir / "config.json", TrainError)
        cfg = merge(DEFAULTS, saved["config"])  # runs written before a key existed get its default
        for text in overrides:
            cfg = merge(cfg, parse_override(text))
        validate(cfg)
        ckpt_path = latest_checkpoint(run_dir)
        if ckpt_path is not None:
            checkpoint_metadata(ckpt_path)  # a broken checkpoint is refused before the data is read
        label_ids = saved["labels"]
    else:
        if cfg is None:
            cfg = load_config(None, overrides)
        run_dir = Path(cfg["run"]["out"])
        claim_run_dir(run_dir, overwrite=bool(cfg["run"]["overwrite"]))
        ckpt_path, label_ids = None, None

    ctx = Dist(cfg["run"]["device"])
    try:
        loader = make_loader
        if cfg["data"]["train"] and is_shar(cfg["data"]["train"]):
            loader = partial(make_shar_loader, cfg["data"]["train"])
        return _train(cfg, run_dir, ctx, ckpt_path, label_ids, on_step, onto, ClipDataset, loader)
    finally:
        ctx.close()


def _train(cfg, run_dir, ctx, ckpt_path, label_ids, on_step, onto, ClipDataset, make_loader) -> Path:
    r, d = cfg["run"], cfg["data"]
    if r["threads"]:
        torch.set_num_threads(int(r["threads"]))
    show = bool(r["progress"]) and ctx.main
    onto, df, report, space, hierarchy = prepare_data(cfg, onto, label_ids, progress=show)

    objective_parts = cfg["objective"]["name"].split("+")
    captions_written = 0
    if "contrastive" in objective_parts or "caption" in objective_parts:
        # with both, the captioning objective's source decides (one caption column per run)
        key = "caption" if "caption" in objective_parts else "contrastive"
        mode = cfg[key]["captions"]
        df, captions_written = fill_captions(df, onto, mode, seed=r["seed"])
        if captions_written and ctx.main:
            print(f"captions: {captions_written} of {df.height} written from "
                  f"{'flat tags' if mode == 'tags' else 'UTS labels'} ({key}.captions={mode})")
    if "caption" in objective_parts and cfg["caption"]["pieces"] is None and cfg["caption"]["vocabulary"] == "corpus":
        # the decoder's id space: the WordPiece pieces of the training captions, saved in
        # config.json so that resume and evaluation rebuild exactly these ids
        tok = CaptionTokenizer.from_captions(df["caption"].to_list(), cfg["caption"]["vocab_file"],
                                             cfg["caption"]["max_length"])
        cfg = {**cfg, "caption": {**cfg["caption"], "pieces": tok.pieces()}}

    seed_everything(r["seed"])  # same initial weights on every rank
    model = build_model(cfg, len(space)).to(ctx.device)
    objective = Objective.from_config(cfg, hierarchy.to(ctx.device))
    if objective.contrastive is not None and not model.text.trainable:
        # frozen tower: encode every caption once, up front
        model.text.precompute([c for c in df["caption"].to_list() if c])
    optimizer = build_optimizer(model, cfg)
    pooled = _pooled(cfg, df, space, ctx.main)
    ds = ClipDataset(df, space, sample_rate=d["sample_rate"], clip_seconds=d["clip_seconds"], train=True, seed=r["seed"],
                     source_index=pooled.index if pooled else None)
    mask_rows = pooled if pooled and cfg["objective"]["mask_unannotated"] else None
    draw_weights = pooled.clip_weights() if pooled and d["source_weights"] else None

    # Fixed-length crops all cost the same: duration buckets would only make batches smaller.
    num_buckets = 1 if d["clip_seconds"] else d["num_buckets"]

    def loader_for(epoch: int, start_batch: int = 0):
        return make_loader(ds, batch_size=d["batch_size"], max_seconds=d["max_seconds"],
                           num_workers=d["num_workers"], seed=r["seed"], epoch=epoch, rank=ctx.rank,
                           world_size=ctx.world, start_batch=start_batch, num_buckets=num_buckets,
                           pin_memory=ctx.device.type == "cuda", weights=draw_weights)

    steps_per_epoch = len(loader_for(0))
    if steps_per_epoch == 0:
        raise TrainError("the training manifest yields no batches")
    max_steps = cfg["optim"]["max_steps"]
    total_steps = int(max_steps) if max_steps else cfg["optim"]["epochs"] * steps_per_epoch
    scheduler = make_schedule(optimizer, cfg, total_steps)
    use_amp = bool(r["amp"]) and ctx.device.type == "cuda"
    amp_dtype = getattr(torch, r["amp_dtype"])
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    step, epoch, start_batch = 0, 0, 0
    if ckpt_path is not None:
        state = load_checkpoint(ckpt_path)
        model.load_weights(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state["scaler"]:
            scaler.load_state_dict(state["scaler"])
        pos = state["position"]
        step, epoch, start_batch = pos["step"], pos["epoch"], pos["batch"]
        if pos["world_size"] != ctx.world and ctx.main:
            print(f"note: checkpoint was written with {pos['world_size']} processes, resuming with "
                  f"{ctx.world}; the data order differs from an uninterrupted run")
        rngs = state["rng"]
        restore_rng(rngs[ctx.rank] if len(rngs) == ctx.world else rngs[0])
    else:
        torch.manual_seed(r["seed"] + 1000 * ctx.rank)  # augmentation/dropout streams per rank

    if ctx.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if ckpt_path is None:
            (run_dir / "config.json").write_text(json.dumps(
                {"config": cfg, "labels": space.ids, "hierarchy": hierarchy.to_dict()["edges"],
                 "parameters": count_parameters(model), "world_size": ctx.world}, indent=2))
            space.save(run_dir / "labels.json")
            if pooled:
                save_run_sources(d["train"], run_dir)
    ctx.barrier()

    net = model
    if ctx.enabled:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
            # a contrastive-only objective leaves the tagging head out of the loss
            find_unused_parameters=objective.needs_captions and objective.tagging is None)
    csv_log = CsvLog(run_dir / "metrics.csv", keep_until_step=step if ckpt_path else None) if ctx.main else None
    writer = None
    if ctx.main and r["tensorboard"]:
        from torch.utils.tensorboard import SummaryWriter  # lazy: ~1 s at import, only with run.tensorboard
        writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=step if ckpt_path else None)

    dropped: list[tuple[str, str]] = []
    val = _Validator(cfg, onto, space, hierarchy, objective, ctx) if d["val"] and ctx.main else None

    def checkpoint(next_epoch: int, next_batch: int) -> None:
        rngs = ctx.gather(capture_rng())
        if ctx.main:
            path = run_dir / "checkpoints" / f"step_{step:08d}.safetensors"
            save_checkpoint(path, model, optimizer, scheduler, scaler, rngs,
                            {"step": step, "epoch": next_epoch, "batch": next_batch, "world_size": ctx.world})
            for old in sorted((run_dir / "checkpoints").glob("step_*.safetensors"))[:-max(1, r["keep_checkpoints"])]:
                old.unlink()
        ctx.barrier()

    progress = None
    if show:
        progress = Progress(TextColumn("[bold]train[/] {task.fields[info]}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn())
        progress.start()
        task = progress.add_task("train", total=total_steps, completed=step, info="")

    autocast = (lambda: torch.autocast("cuda", dtype=amp_dtype)) if use_amp else nullcontext
    t_last, loss_sum, loss_n, parts = time.perf_counter(), 0.0, 0, {}
    try:
        while step < total_steps:
            net.train()
            batches = loader_for(epoch, start_batch)
            batch_index = start_batch
            for batch in _iter_rng_neutral(batches):
                dropped.extend(batch["dropped"])
                if dropped and cfg["data"]["strict"]:
                    raise TrainError(f"{d['train']}: clip {dropped[0][0]} failed to decode ({dropped[0][1]}); "
                                     "data.strict refuses to skip it")
                wave = batch["waveform"].to(ctx.device, non_blocking=True)
                targets = batch["targets"].to(ctx.device, non_blocking=True)
                annotated = mask_rows.rows(batch["source"].to(ctx.device)) if mask_rows else None
                with autocast():
                    if wave.shape[0] and objective.needs_captions:
                        loss, parts = objective.total_loss(net(wave, batch["caption"]), targets, annotated)
                    elif wave.shape[0]:
                        loss = objective.loss(net(wave), targets, annotated)
                    else:  # every clip of this batch was bad: keep DDP ranks in step
                        loss = sum(p.sum() for p in net.parameters()) * 0.0
                        if objective.contrastive is not None:
                            _idle_gather(model, targets, ctx.device)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                if cfg["optim"]["grad_clip"]:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["optim"]["grad_clip"])
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                if objective.contrastive is not None:
                    with torch.no_grad():  # as CLIP: the scale stays in [1, 100]
                        model.logit_scale.clamp_(0.0, MAX_LOGIT_SCALE)
                step += 1
                batch_index += 1
                loss_sum, loss_n = loss_sum + float(loss.detach()), loss_n + 1
                if step % r["log_every"] == 0 or step == total_steps:
                    mean_loss = ctx.mean(loss_sum / loss_n)
                    lr = scheduler.get_last_lr()[0]
                    if ctx.main:
                        now = time.perf_counter()
                        csv_log.write(step=step, epoch=epoch, split="train", loss=f"{mean_loss:.6f}",
                                      lr=f"{lr:.6g}", seconds=f"{now - t_last:.3f}")
                        t_last = now
                        if writer:
                            writer.add_scalar("train/loss", mean_loss, step)
                            writer.add_scalar("train/lr", lr, step)
                            for part, value in parts.items():  # hier+contrastive: each loss (last batch)
                                writer.add_scalar(f"train/{part}_loss", value, step)
                            if objective.contrastive is not None:
                                writer.add_scalar("train/logit_scale", float(model.logit_scale.detach().exp()), step)
                    loss_sum, loss_n = 0.0, 0
                if progress:
                    progress.update(task, completed=step, info=f"epoch {epoch} loss {float(loss.detach()):.4f}")
                epoch_done = batch_index >= steps_per_epoch
                if step % r["ckpt_every"] == 0 or step == total_steps:
                    checkpoint(epoch + 1 if epoch_done else epoch, 0 if epoch_done else batch_index)
                if on_step is not None:
                    on_step(step)
                if step >= total_steps:
                    break
            if val is not None:
                row = val.run(model)
                csv_log.write(step=step, epoch=epoch, split="val", **{k: f"{v:.6f}" for k, v in row.items()})
                if writer:
                    for k, v in row.items():
                        writer.add_scalar(f"val/{k}", v, step)
            ctx.barrier()
            epoch, start_batch = epoch + 1, 0
    finally:
        if progress:
            progress.stop()
        if writer:
            writer.close()

    all_dropped = [x for part in ctx.gather(dropped) for x in part]
    if ctx.main:
        save_weights(run_dir / "model.safetensors", model, cfg)
        data_report = report.to_dict()
        data_report["dropped_at_load"] = [{"id": i, "reason": why} for i, why in all_dropped]
        data_report["captions_from_labels"] = captions_written
        (run_dir / "data_report.json").write_text(json.dumps(data_report, indent=2))
        if report.skipped or all_dropped or report.unmapped_tags:
            print(f"data: {report.summary()}; {len(all_dropped)} clip(s) dropped while decoding")
        training_curves(run_dir / "metrics.csv", run_dir / "curves.png")
    ctx.barrier()
    return run_dir


def _idle_gather(model, targets, device) -> None:
    """A rank whose batch decoded to nothing still takes part in the other ranks' feature
    gathering (with zero rows), or they would wait for it forever."""
    dim = model.audio_proj[-1].out_features
    gather_features(torch.zeros(0, dim, device=device), torch.zeros(0, dim, device=device),
                    torch.zeros(0, len(model.head.bias), device=device))


def save_weights(path: Path, model: torch.nn.Module, cfg: dict) -> None:
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.weights().items()}
    atomic_write_with(path, lambda tmp: save_file(tensors, tmp, metadata={"format": "uts-model/1", "config": to_json(cfg)}))


class _Validator:
    """Per-epoch validation on rank 0: loss, macro and parent mAP, violation rate."""

    def __init__(self, cfg, onto, space, hierarchy, objective, ctx):
        df, _ = validate_manifest(read_manifest(cfg["data"]["val"], onto=onto, alignment=cfg["data"]["alignment"]))
        self.ds = ClipDataset(df, space, sample_rate=cfg["data"]["sample_rate"],
                              clip_seconds=cfg["data"]["clip_seconds"], train=False, seed=cfg["run"]["seed"])
        self.cfg, self.hierarchy, self.objective, self.ctx, self.onto = cfg, hierarchy, objective, ctx, onto

    @torch.no_grad()
    def run(self, model) -> dict:
        state = torch.get_rng_state()  # keep validation out of the training RNG stream
        model.eval()
        out = predict(model, self.objective, self.ds, self.cfg, device=self.ctx.device)
        model.train()
        torch.set_rng_state(state)
        scores = out["scores"]
        if self.objective.tagging is None and "audio" in out:  # no tagging head: zero-shot
            scores = zero_shot_scores(model, out["audio"], self.hierarchy, self.onto)
        elif self.objective.tagging is None:  # captioning only: zero-shot by decoder likelihood
            scores = zero_shot_caption_scores(model.decoder, model.tokenizer, out["frames"].to(self.ctx.device),
                                              self.hierarchy, self.onto)
        rep = hierarchical_report(scores, out["targets"], self.hierarchy, self.cfg["run"]["threshold"])
        return {"loss": out["loss"], "macro_map": rep["macro_map"], "parent_map": rep["parent_map"],
                "violation_rate": rep["violation_rate"]}


def is_main_process() -> bool:
    """Rank 0 of a torchrun job, or a plain single process."""
    return os.environ.get("RANK", "0") == "0"


def end_worker() -> None:
    """End a torchrun worker once everything is written and the process group is gone, without
    running C++ static destructors: gloo/c10d threads torn down at interpreter exit have aborted
    a finished run (SIGABRT, and torchrun reports the job as failed). A single process returns."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
