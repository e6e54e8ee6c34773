"""Training-step cost of the hierarchical objective, and data-loading speed.

1. Step time of ``hier`` (max constraint + MCLoss over a 3,000-class DAG) against ``flat`` (BCE)
   with the same encoder, batch and head; steps alternate between the two so both see the same
   machine noise. Target: hier at most 15% slower.
2. Data loading: seconds per batch from the loader (2 workers, decoding + resampling + cropping
   real WAV files of a synthetic corpus) against the training step. Target: loading at least 2x
   faster than the step, so the workers keep the model fed.
3. Captioning: step time of ``caption`` and ``hier+caption`` against ``hier`` with the same
   encoder, batch and head (the recipe's ``caption`` section: 2-layer decoder, width 256, id space
   of the synthetic generator's captions); steps alternate, overhead = median of paired ratios.

Prints one JSON line. Usage: .venv/bin/python benchmarks/train_bench.py [--classes 3000] [--steps 20]
[--only caption]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uts.training.config import load_config  # noqa: E402
from uts.training.encoders import build_model  # noqa: E402
from uts.training.hierarchy import Hierarchy  # noqa: E402
from uts.training.objectives import Objective  # noqa: E402

RECIPE = Path(__file__).resolve().parents[1] / "training" / "demo.yaml"


def synthetic_dag(n: int, seed: int = 0, max_depth: int = 7) -> Hierarchy:
    """A taxonomy-shaped DAG: 12 roots, each later class under 1 parent (10%: 2 parents) drawn
    from the classes above it, depth capped at ``max_depth``."""
    rng = random.Random(seed)
    depth, edges = [0] * n, []
    for c in range(12, n):
        candidates = [p for p in rng.sample(range(c), k=min(c, 8)) if depth[p] < max_depth]
        parents = candidates[: 2 if rng.random() < 0.1 else 1] or [rng.randrange(12)]
        for p in parents:
            edges.append((c, p))
        depth[c] = 1 + max(depth[p] for p in parents)
    return Hierarchy([f"c{i}" for i in range(n)], edges)


def time_steps(cfg: dict, hierarchy: Hierarchy, steps: int, batch: int, seconds: float) -> dict:
    torch.manual_seed(0)
    n = len(hierarchy)
    model = build_model(cfg, n)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    objectives = {name: Objective(name, hierarchy) for name in ("flat", "hier")}
    wave = torch.randn(batch, int(seconds * cfg["data"]["sample_rate"]))
    # leaf-only labels: 1-3 random classes per clip
    labels = torch.zeros(batch, n)
    for row in range(batch):
        labels[row, torch.randint(0, n, (random.randint(1, 3),))] = 1
    times: dict[str, list[float]] = {"flat": [], "hier": []}
    loss_times: dict[str, list[float]] = {"flat": [], "hier": []}
    for i in range(steps + 2):
        for name in (("flat", "hier") if i % 2 else ("hier", "flat")):
            t0 = time.perf_counter()
            logits = model(wave)
            t1 = time.perf_counter()
            loss = objectives[name].loss(logits, labels)
            t2 = time.perf_counter()
            opt.zero_grad()
            loss.backward()
            opt.step()
            t3 = time.perf_counter()
            if i >= 2:  # warm-up
                times[name].append(t3 - t0)
                loss_times[name].append(t2 - t1)
    med = {k: statistics.median(v) for k, v in times.items()}
    # Paired: each hier step against the flat step next to it, so load drift on a shared machine
    # cancels; the median of those ratios is the overhead we report.
    paired = statistics.median(h / f for h, f in zip(times["hier"], times["flat"]))
    return {"flat_step_s": med["flat"], "hier_step_s": med["hier"],
            "hier_overhead": paired - 1.0, "hier_overhead_of_medians": med["hier"] / med["flat"] - 1.0,
            "flat_loss_ms": 1e3 * statistics.median(loss_times["flat"]),
            "hier_loss_ms": 1e3 * statistics.median(loss_times["hier"])}


def generator_captions(n: int, seed: int = 0) -> list[str]:
    """``n`` captions from the synthetic corpus generator (what a caption run trains on)."""
    from uts.ontology import load
    from uts.synth import SynthConfig, synthesize
    from uts.training.data import read_manifest

    with tempfile.TemporaryDirectory() as tmp:
        res = synthesize(Path(tmp) / "c", load(), SynthConfig(n=n, seed=seed, seconds=0.5, skip_missing_labels=True,
                                                              speech_backend="numpy"), progress=False)
        return read_manifest(res.manifest)["caption"].to_list()


def time_caption_steps(cfg: dict, hierarchy: Hierarchy, steps: int, batch: int, seconds: float) -> dict:
    """``caption`` and ``hier+caption`` steps against ``hier`` steps, same encoder and batch."""
    from uts.training.tokenizer import CaptionTokenizer

    captions = generator_captions(max(64, batch * 4))
    pieces = CaptionTokenizer.from_captions(captions).pieces()
    n = len(hierarchy)
    names = ("hier", "caption", "hier+caption")
    models, objectives, opts = {}, {}, {}
    for name in names:
        c = {**cfg, "objective": {**cfg["objective"], "name": name},
             "caption": {**cfg["caption"], "pieces": pieces}}
        torch.manual_seed(0)  # the same encoder weights in every model
        models[name] = build_model(c, n)
        objectives[name] = Objective.from_config(c, hierarchy)
        opts[name] = torch.optim.AdamW(models[name].parameters(), lr=1e-3)
    wave = torch.randn(batch, int(seconds * cfg["data"]["sample_rate"]))
    labels = torch.zeros(batch, n)
    for row in range(batch):
        labels[row, torch.randint(0, n, (random.randint(1, 3),))] = 1
    times: dict[str, list[float]] = {k: [] for k in names}
    for i in range(steps + 2):
        caps = [captions[(i * batch + j) % len(captions)] for j in range(batch)]
        order = names if i % 2 else names[::-1]
        for name in order:
            t0 = time.perf_counter()
            if name == "hier":
                loss = objectives[name].loss(models[name](wave), labels)
            else:
                loss, _ = objectives[name](models[name](wave, caps), labels)
            opts[name].zero_grad()
            loss.backward()
            opts[name].step()
            if i >= 2:
                times[name].append(time.perf_counter() - t0)
    tokens = CaptionTokenizer(keep=pieces).encode(captions)
    out = {"caption_pieces": len(pieces), "caption_tokens_mean": float((tokens != 0).sum(1).float().mean()),
           "caption_decoder_params": sum(p.numel() for p in models["caption"].decoder.parameters())}
    for name in names:
        out[f"{name}_step_s"] = statistics.median(times[name])
    for name in ("caption", "hier+caption"):
        out[f"{name}_overhead_vs_hier"] = statistics.median(
            a / b for a, b in zip(times[name], times["hier"])) - 1.0
    return out


def time_loading(cfg: dict, batch: int, workers: int, clips: int) -> float:
    from uts.ontology import load
    from uts.training.data import ClipDataset, LabelSpace, make_loader, read_manifest, validate_manifest
    from uts.synth import SynthConfig, synthesize

    onto = load()
    with tempfile.TemporaryDirectory() as tmp:
        res = synthesize(Path(tmp) / "c", onto, SynthConfig(n=clips, seed=0, seconds=3.0, sample_rate=22050,
                                                            skip_missing_labels=True, speech_backend="numpy"))
        df, _ = validate_manifest(read_manifest(res.manifest, onto=onto))
        space = LabelSpace.from_manifest(df, onto)
        # 3 s files at 22.05 kHz -> random 2 s crops resampled to 16 kHz: the real work of a loader
        ds = ClipDataset(df, space, sample_rate=cfg["data"]["sample_rate"], clip_seconds=cfg["data"]["clip_seconds"])
        per_batch = []
        for epoch in range(2):
            loader = make_loader(ds, batch_size=batch, num_workers=workers, seed=0, epoch=epoch, num_buckets=1)
            it = iter(loader)
            next(it)  # worker start-up is paid once per epoch, not per batch
            t0 = time.perf_counter()
            count = sum(1 for _ in it)
            per_batch.append((time.perf_counter() - t0) / max(1, count))
        return statistics.median(per_batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", type=int, default=3000)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clips", type=int, default=160)
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the training step")
    ap.add_argument("--recipe", type=Path, default=RECIPE, help="recipe whose features and encoder to time")
    ap.add_argument("--seconds", type=float, default=None, help="clip length (default: the recipe's)")
    ap.add_argument("--only", choices=("hier", "loading", "caption"), nargs="+", default=None,
                    help="run only these parts (default: all)")
    args = ap.parse_args()
    parts = set(args.only or ("hier", "loading", "caption"))
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.recipe)
    if args.seconds:
        cfg["data"]["clip_seconds"] = args.seconds
    hierarchy = synthetic_dag(args.classes)
    out = {"classes": args.classes, "edges": int(hierarchy.edges.shape[0]), "closure_pairs": hierarchy.num_pairs,
           "max_depth": int(hierarchy.depth.max()), "batch": args.batch, "recipe": args.recipe.name,
           "encoder": cfg["model"]["encoder"], "clip_seconds": cfg["data"]["clip_seconds"],
           "device": "cpu", "torch_threads": torch.get_num_threads()}
    if "hier" in parts or "loading" in parts:
        out.update(time_steps(cfg, hierarchy, args.steps, args.batch, cfg["data"]["clip_seconds"]))
    if "loading" in parts:
        load_s = time_loading(cfg, args.batch, args.workers, args.clips)
        out.update({"workers": args.workers, "load_batch_s": load_s,
                    "load_speedup_vs_step": out["flat_step_s"] / load_s})
    if "caption" in parts:
        out.update(time_caption_steps(cfg, hierarchy, args.steps, args.batch, cfg["data"]["clip_seconds"]))
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
