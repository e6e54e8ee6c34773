"""What a lent GPU node does with UTS training, in one run of a few minutes; prints one JSON line.

Where CUDA is present it measures:

1. **bf16 training throughput** of CNN10 (training/base.yaml) and the patch transformer
   (training/transformer.yaml) at the recipes' batch (32 clips of 10 s per GPU) on a
   3,000-class hierarchy with the ``hier`` objective: median step time, clips/s, peak memory;
2. **data loading against the step**: seconds per batch from the real loader (decoding,
   resampling and cropping WAV files of a synthetic corpus, ``--workers`` processes) against the
   CNN10 step, so you know whether the GPU waits for data;
3. **single-node DDP over every visible GPU with NCCL**: clips/s on 1 GPU and on all of them,
   and the scaling efficiency (clips/s on N GPUs / (N x clips/s on 1));
4. **exact resume on the GPU**: ``uts train``'s trainer run straight, and killed after step 7 then
   resumed from its step-4 checkpoint; bitwise-equal final weights (and the largest difference).

Without CUDA it prints one line saying so and exits 0 (CI runs that path). Budget: about 3-6
minutes on one H100-class GPU (``--steps`` and ``--clips`` scale it).

    .venv/bin/python benchmarks/gpu_check.py            # everything
    .venv/bin/python benchmarks/gpu_check.py --skip resume loader

This script has NOT been run on a GPU yet (none was lent while it was written); its CPU plumbing
is tested in tests/test_gpu_check.py.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

RECIPES = {"cnn10": REPO / "training" / "base.yaml", "transformer": REPO / "training" / "transformer.yaml"}


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _training_setup(recipe: Path, classes: int, batch: int, device, seconds: float | None = None):
    """Model, optimiser, objective and one batch of random waveforms and leaf labels on ``device``."""
    import torch
    from train_bench import synthetic_dag

    from uts.training.config import load_config
    from uts.training.encoders import build_model
    from uts.training.objectives import Objective

    cfg = load_config(recipe)
    if seconds:
        cfg["data"]["clip_seconds"] = seconds
    torch.manual_seed(0)
    model = build_model(cfg, classes).to(device)
    objective = Objective("hier", synthetic_dag(classes).to(device))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    wave = torch.randn(batch, int(cfg["data"]["clip_seconds"] * cfg["data"]["sample_rate"]), device=device)
    labels = torch.zeros(batch, classes, device=device)
    labels[torch.arange(batch), torch.randint(0, classes, (batch,))] = 1
    return cfg, model, objective, opt, wave, labels


def _timed_steps(model, objective, opt, wave, labels, steps: int, device, warmup: int = 3) -> list[float]:
    import torch

    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    times = []
    for i in range(warmup + steps):
        _sync(device)
        t0 = time.perf_counter()
        with autocast:
            logits = model(wave)
        loss = objective.loss(logits.float(), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def throughput(encoder: str, device, batch: int = 32, steps: int = 20, classes: int = 3000,
               seconds: float | None = None, warmup: int = 3) -> dict:
    """Median bf16 step time and clips/s of one encoder at ``batch`` clips per step."""
    import torch

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    cfg, model, objective, opt, wave, labels = _training_setup(RECIPES[encoder], classes, batch, device, seconds)
    step = statistics.median(_timed_steps(model, objective, opt, wave, labels, steps, device, warmup))
    out = {"batch": batch, "clip_seconds": cfg["data"]["clip_seconds"], "step_s": round(step, 4),
           "clips_per_s": round(batch / step, 1),
           "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2)}
    if device.type == "cuda":
        out["peak_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return out


def loader_time(batch: int, workers: int, clips: int) -> float:
    """Seconds per batch from the real loader on a synthetic WAV corpus (base.yaml's audio)."""
    from train_bench import time_loading

    from uts.training.config import load_config

    return time_loading(load_config(RECIPES["cnn10"]), batch, workers, clips)


# -- DDP ------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, backend: str, encoder: str, batch: int, steps: int,
                classes: int, seconds: float | None, warmup: int, out: str) -> None:
    import torch
    import torch.distributed as dist

    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        if backend == "nccl":
            torch.cuda.set_device(rank)
            device = torch.device("cuda", rank)
        else:
            device = torch.device("cpu")
        _, model, objective, opt, wave, labels = _training_setup(RECIPES[encoder], classes, batch, device, seconds)
        ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[rank] if backend == "nccl" else None)
        times = _timed_steps(ddp, objective, opt, wave, labels, steps, device, warmup)
        dist.barrier()
        if rank == 0:
            Path(out).write_text(json.dumps({"step_s": statistics.median(times)}))
    finally:
        dist.destroy_process_group()


def ddp_run(world: int, backend: str = "nccl", encoder: str = "cnn10", batch: int = 32, steps: int = 20,
            classes: int = 3000, seconds: float | None = None, warmup: int = 3) -> dict:
    """Median step time and total clips/s of ``world`` processes, ``batch`` clips each."""
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rank0.json"
        mp.spawn(_ddp_worker, args=(world, _free_port(), backend, encoder, batch, steps, classes, seconds, warmup, str(out)),
                 nprocs=world, join=True)
        step = json.loads(out.read_text())["step_s"]
    return {"processes": world, "step_s": round(step, 4), "clips_per_s": round(world * batch / step, 1)}


def ddp_scaling(gpus: int, **kw) -> dict:
    one = ddp_run(1, **kw)
    if gpus < 2:
        return {"one_gpu": one, "note": "one GPU visible: NCCL initialised, no scaling to measure"}
    every = ddp_run(gpus, **kw)
    return {"one_gpu": one, "all_gpus": every,
            "scaling_efficiency": round(every["clips_per_s"] / (gpus * one["clips_per_s"]), 3)}


# -- exact resume ---------------------------------------------------------------------------------
class _Killed(Exception):
    pass


def exact_resume(device: str = "cuda", clips: int = 64) -> dict:
    """The trainer straight vs killed after step 7 and resumed (checkpoints every 4 steps)."""
    import torch
    from safetensors.torch import load_file

    from uts.ontology import load
    from uts.training.config import load_config
    from uts.synth import SynthConfig, synthesize
    from uts.training.trainer import train

    with tempfile.TemporaryDirectory() as tmp:
        onto = load()
        corpus = synthesize(Path(tmp) / "c", onto, SynthConfig(n=clips, seed=0, seconds=2.0, sample_rate=16000,
                                                               skip_missing_labels=True, speech_backend="numpy"))

        def cfg(out: str, workers: int):
            return load_config(REPO / "training" / "demo.yaml", [
                f"data.train={corpus.manifest}", f"run.out={out}", f"run.device={device}", "run.amp=true",
                "data.batch_size=8", f"data.num_workers={workers}", "optim.max_steps=12", "run.ckpt_every=4",
                "run.log_every=4", "run.progress=false", "run.tensorboard=false"])

        def hook(step):
            if step == 7:
                raise _Killed

        straight = train(cfg(f"{tmp}/a", 0))
        try:
            train(cfg(f"{tmp}/b", 2), on_step=hook)
        except _Killed:
            pass
        resumed = train(resume=f"{tmp}/b")
        a, b = load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors")
        equal = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    return {"bitwise_equal": equal, "max_abs_diff": diff, "steps": 12, "killed_after": 7, "resumed_from": 4}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32, help="clips per GPU per step (the recipes' batch)")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per measurement (after 3 warm-up)")
    ap.add_argument("--classes", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="loader processes")
    ap.add_argument("--clips", type=int, default=256, help="synthetic WAV clips for the loader measurement")
    ap.add_argument("--skip", nargs="*", default=[], choices=["throughput", "loader", "ddp", "resume"])
    args = ap.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print(json.dumps({"cuda": False, "skipped": f"no CUDA device visible (torch {torch.__version__}, "
                          f"built for CUDA {torch.version.cuda}); nothing measured"}))
        return 0
    # Deterministic cuBLAS, so the resume check can be bitwise (set before the first CUDA call).
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    gpus = torch.cuda.device_count()
    device = torch.device("cuda", 0)
    result: dict = {"cuda": True, "gpu": torch.cuda.get_device_name(0), "gpus": gpus, "torch": torch.__version__,
                    "cuda_version": torch.version.cuda, "bf16": torch.cuda.is_bf16_supported()}
    started = time.perf_counter()
    sections: dict = {}
    if "throughput" not in args.skip:
        sections["throughput"] = lambda: {e: throughput(e, device, args.batch, args.steps, args.classes)
                                          for e in RECIPES}
    if "loader" not in args.skip:
        def loader():
            per_batch = loader_time(args.batch, args.workers, args.clips)
            step = (result.get("throughput") or {}).get("cnn10", {}).get("step_s")
            out = {"workers": args.workers, "batch_s": round(per_batch, 4)}
            if step:
                out.update({"cnn10_step_s": step, "loader_keeps_up": per_batch < step,
                            "step_over_load": round(step / per_batch, 2)})
            return out
        sections["loader"] = loader
    if "ddp" not in args.skip:
        sections["ddp"] = lambda: ddp_scaling(gpus, batch=args.batch, steps=args.steps, classes=args.classes)
    if "resume" not in args.skip:
        sections["resume"] = exact_resume
    for name, run in sections.items():
        t0 = time.perf_counter()
        try:
            result[name] = run()
        except Exception as exc:  # noqa: BLE001 - report every section, even when one fails
            result[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        result[name + "_seconds"] = round(time.perf_counter() - t0, 1)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))
    return 1 if any(isinstance(v, dict) and "error" in v for v in result.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
