"""``uts eval``: score a trained run on a manifest with hierarchy-aware metrics and a linear probe.

The ground truth is the manifest's ``labels_complete`` column when it has one (synthetic corpora
know the true labels), else ``labels``; either way it is closed over ancestors before scoring.
The linear probe trains a logistic regression on the frozen encoder's embeddings of the run's
training clips and tests it on the evaluated clips; the default downstream task is the clip's
domains (speech / music / sound), read from a ``domains`` column or from the ontology.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.progress import track
from safetensors import SafetensorError, safe_open

from uts.ontology import load
from uts.ontology.graph import label_domains

from .caption_eval import caption_retrieval, generated_captions, held_out_loss, zero_shot_caption_scores
from .config import DEFAULTS, merge, read_run_config
from .data import ClipDataset, LabelSpace, ManifestError, make_loader, read_manifest, validate_manifest
from .encoders import Tagger, build_model
from .hierarchy import Hierarchy
from .objectives import Objective
from .metrics import hierarchical_report, linear_probe
from .pooling import per_source_report, pooled_sources, run_sources
from .report import write_eval_report
from .retrieval import clip_captions, retrieval_metrics
from .zeroshot import zero_shot_scores

DOMAINS = ("speech", "music", "sound")


class EvalError(RuntimeError):
    pass


@dataclass
class Run:
    """A trained run, ready to predict."""

    path: Path
    cfg: dict
    labels: list[str]
    model: Tagger
    hierarchy: Hierarchy
    objective: Objective


def load_run(run_dir: str | Path, device: str | torch.device = "cpu", weights: str | Path | None = None) -> Run:
    """Rebuild a run's model from ``config.json`` and ``model.safetensors`` (or ``weights``)."""
    run_dir = Path(run_dir)
    cfg_path, weights = run_dir / "config.json", Path(weights) if weights else run_dir / "model.safetensors"
    if not cfg_path.is_file():
        raise EvalError(f"{run_dir} is not a training run (no config.json)")
    if not weights.is_file():
        raise EvalError(f"no weights at {weights}; has the run finished?")

    saved = read_run_config(cfg_path, EvalError)
    if "hierarchy" not in saved:
        raise EvalError(f"{cfg_path}: no 'hierarchy'; expected the config.json that uts train writes")
    cfg, labels = merge(DEFAULTS, saved["config"]), saved["labels"]
    hierarchy = Hierarchy(labels, [tuple(e) for e in saved["hierarchy"]])
    try:
        with safe_open(str(weights), framework="pt") as f:
            prefix = "model." if any(k.startswith("model.") for k in f.keys()) else ""
            state = {k[len(prefix):]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}
    except (SafetensorError, OSError) as exc:  # safetensors alone says only e.g. "header too large"
        raise EvalError(f"{weights}: not a safetensors file ({exc}); expected the model.safetensors "
                        "that uts train writes") from None
    model = build_model(cfg, len(labels))
    try:
        model.load_weights(state)
    except RuntimeError as exc:
        raise EvalError(f"{weights} does not match the model in {cfg_path}: {str(exc).splitlines()[0]}") from None
    model.to(device).eval()
    objective = Objective.from_config(cfg, hierarchy)
    return Run(run_dir, cfg, labels, model, hierarchy, objective)


@torch.no_grad()
def predict(model: Tagger, objective: Objective, dataset, cfg: dict, device="cpu",
            batch_size: int | None = None, num_workers: int | None = None, progress: bool = False) -> dict:
    """Scores, embeddings, given targets and mean loss over a (non-shuffled) ClipDataset; with
    a text tower also ``audio``, the normalised joint-space embeddings. The loss is the tagging
    loss (NaN for a contrastive-only objective)."""
    loader = make_loader(dataset, batch_size=batch_size or cfg["data"]["batch_size"] or 16,
                         num_workers=cfg["data"]["num_workers"] if num_workers is None else num_workers,
                         seed=cfg["run"]["seed"], shuffle=False)
    was_training = model.training
    model.eval()
    scores, embeds, targets, index, losses, dropped, joint, frames = [], [], [], [], [], [], [], []
    has_text = getattr(model, "text", None) is not None
    has_decoder = getattr(model, "decoder", None) is not None
    batches = loader
    if progress:
        batches = track(loader, total=len(loader), description="scoring clips")
    for batch in batches:
        dropped.extend(batch["dropped"])
        if not batch["index"]:
            continue
        wave = batch["waveform"].to(device)
        seq, emb = model.encode(wave)
        logits = model.head(emb)
        if has_decoder:  # the caption decoder's memory, kept for scoring texts against clips
            frames.append(seq.float().cpu())
        if objective.tagging is not None:
            losses.append(float(objective.loss(logits, batch["targets"].to(device))) * len(batch["index"]))
        if has_text:
            joint.append(torch.nn.functional.normalize(model.audio_proj(emb).float(), dim=-1).cpu())
        scores.append(objective.scores(logits).cpu())
        embeds.append(emb.float().cpu())
        targets.append(batch["targets"])
        index.extend(batch["index"])
    model.train(was_training)
    if not index:
        raise EvalError("no clip could be decoded")
    order = np.argsort(index)
    cat = lambda xs: torch.cat(xs)[torch.as_tensor(order)]  # noqa: E731  back to manifest order
    out = {"scores": cat(scores), "embeddings": cat(embeds), "targets": cat(targets),
           "index": [index[i] for i in order], "dropped": dropped,
           "loss": sum(losses) / len(index) if losses else float("nan")}
    if has_text:
        out["audio"] = cat(joint)
    if has_decoder:
        out["frames"] = cat(frames)
    return out


def domain_targets(df, onto) -> np.ndarray:
    """Clips x (speech, music, sound): from a ``domains`` column, else the labels' domains by the
    one domain rule (:func:`uts.ontology.graph.label_domains`)."""
    if "domains" in df.columns:
        rows = [set(d or []) for d in df["domains"].to_list()]
    else:
        col = "labels_complete" if "labels_complete" in df.columns else "labels"
        rows = [label_domains(onto, labels or []) for labels in df[col].to_list()]
    return np.array([[float(d in r) for d in DOMAINS] for r in rows], dtype=np.float32)


def evaluate(run_dir: str | Path, manifest: str | Path, out_dir: str | Path | None = None,
             probe: bool = True, probe_manifest: str | Path | None = None, threshold: float | None = None,
             device: str = "cpu", onto=None, progress: bool = False, name: str | None = None,
             strict: bool = False) -> dict:
    """Evaluate a run; writes ``eval.json``, ``report.md`` and plots to ``out_dir``
    (default ``RUN/eval``) and returns the results. Clips that cannot be used (bad manifest
    entries, audio that fails to decode) are skipped and counted in ``result["data"]``;
    ``strict`` refuses instead of skipping."""
    if probe and probe_manifest is not None and not Path(probe_manifest).is_file():
        raise EvalError(f"probe training manifest not found: {probe_manifest} (--probe-train)")
    run = load_run(run_dir, device)
    cfg = run.cfg
    threshold = cfg["run"]["threshold"] if threshold is None else threshold
    onto = onto or load(cfg["labels"]["ontology"])
    space = LabelSpace(run.labels)
    try:
        df, bad = validate_manifest(read_manifest(manifest, onto=onto))
    except ManifestError as exc:
        raise EvalError(str(exc)) from None
    if df.height == 0:
        raise EvalError(f"no usable clips in {manifest} ({bad.summary()})")
    bad.as_skipped().check(strict, manifest)  # labels that are no UTS id included, as in `uts train`
    d = cfg["data"]
    ds = ClipDataset(df, space, sample_rate=d["sample_rate"], clip_seconds=d["clip_seconds"], train=False, seed=0)
    out = predict(run.model, run.objective, ds, cfg, device=device, progress=progress)
    for clip_id, reason in out["dropped"]:  # decoded badly: counted with the manifest's skips
        bad.add(clip_id, None, "undecodable", str(reason))
    if strict and out["dropped"]:
        raise EvalError(f"{manifest}: {len(out['dropped'])} clips failed to decode "
                        f"(--strict refuses to skip; first: {out['dropped'][0][0]}: {out['dropped'][0][1]})")
    truth_col = "labels_complete" if "labels_complete" in df.columns else "labels"
    truth = np.stack([space.encode(ls or []) for ls in df[truth_col].to_list()])[out["index"]]
    if not truth.any() and run.model.text is None and run.model.decoder is None:
        # a tagging-only run: every figure would be NaN; say why instead of writing a report of NaNs
        # (caption and contrastive runs still have their caption figures to give)
        raise EvalError(f"{manifest}: no clip has a label of the run's label space in '{truth_col}'; "
                        "nothing to score (map the test set onto UTS first: uts map apply)")
    unknown = sorted({c for ls in df[truth_col].to_list() for c in (ls or []) if c not in space})
    result = {"run": str(run.path), "name": name or run.path.name, "manifest": str(manifest),
              "objective": run.objective.name, "ancestors": run.objective.ancestors,
              "encoder": cfg["model"]["encoder"], "truth_column": truth_col,
              "loss": out["loss"], "skipped_entries": bad.skipped - len(out["dropped"]), "dropped_at_load": len(out["dropped"]),
              "data": data_counts(bad, len(out["index"])),
              "labels_outside_label_space": unknown}
    if run.model.text is not None:
        zs = hierarchical_report(zero_shot_scores(run.model, out["audio"], run.hierarchy, onto), truth,
                                 run.hierarchy, threshold)
        result["zero_shot"] = zs
        result["retrieval"] = _retrieval(run, df, out, onto)
        result["zero_shot_from"] = "text tower"
    if run.model.decoder is not None:
        result["caption"] = _caption_eval(run, df, out, onto, truth, threshold, device)
        if run.model.text is None:  # no text tower: zero-shot and retrieval by decoder likelihood
            result["zero_shot"] = result["caption"].pop("zero_shot")
            result["retrieval"] = result["caption"].pop("retrieval")
            result["zero_shot_from"] = "caption decoder"
    # Tagging figures come from the head; a model without a tagging objective has no trained
    # head, so its tagging figures are the zero-shot ones.
    result["scores_from"] = "head" if run.objective.tagging is not None else "zero-shot"
    if run.objective.tagging is not None:
        result.update(hierarchical_report(out["scores"], truth, run.hierarchy, threshold))
    else:
        result.update(result["zero_shot"])
    if run.objective.tagging is not None:
        result.update(_per_source(run, manifest, df, out, truth, onto, threshold))
    result["class_labels"] = {cid: (onto.get(cid).label if cid in onto else cid) for cid in run.labels}
    if probe:
        result["probe"] = _probe(run, cfg, onto, df, out, probe_manifest or d["train"], space, device, strict)
    out_dir = Path(out_dir) if out_dir else run.path / "eval"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval.json").write_text(json.dumps(result, indent=2))
    write_eval_report(result, out_dir, run.path)
    return result


def _per_source(run: Run, manifest, df, out, truth, onto, threshold) -> dict:
    """Pooled data, each source on its own label space: a pooled test manifest's sources on
    their own clips, else the run's training sources on every clip (a fully labelled test set).
    Empty for unpooled runs and test sets."""
    try:
        tested = pooled_sources(manifest, df, run.labels)
    except ValueError as exc:
        raise EvalError(str(exc)) from None
    if tested is not None:
        return {"per_source_clips": "own", "per_source": per_source_report(
            out["scores"], truth, run.labels, tested.sources, tested.index[out["index"]], onto, threshold)}
    trained = run_sources(run.path)
    if trained is None:
        return {}
    return {"per_source_clips": "all", "per_source": per_source_report(
        out["scores"], truth, run.labels, trained, None, onto, threshold)}


@torch.no_grad()
def _caption_eval(run: Run, df, out, onto, truth, threshold: float, device) -> dict:
    """Held-out caption loss and perplexity, generated captions and their BLEU / ROUGE-L /
    CIDEr-D, and zero-shot tagging and retrieval by decoder likelihood (caption_eval.py)."""
    dec, tok = run.model.decoder, run.model.tokenizer
    frames = out["frames"].to(device)
    kept = df[out["index"], :]
    texts, owner, written = clip_captions(kept, onto)
    res: dict = {"captions_from_labels": written}
    zs = zero_shot_caption_scores(dec, tok, frames, run.hierarchy, onto)
    res["zero_shot"] = hierarchical_report(zs, truth, run.hierarchy, threshold)
    if not texts:
        res["retrieval"] = {"skipped": "no clip has a caption or labels to write one from"}
        return res
    res.update(held_out_loss(dec, tok, frames, texts, owner))
    res["retrieval"] = caption_retrieval(dec, tok, frames, texts, owner)
    gen = generated_captions(dec, tok, frames, texts, owner, beam_size=run.cfg["caption"]["beam_size"])
    ids = kept["id"].to_list()
    for e in gen["examples"]:
        e["id"] = ids[e.pop("clip")]
    res["generated"] = gen
    return res


@torch.no_grad()
def _retrieval(run: Run, df, out, onto) -> dict:
    """Text<->audio retrieval over the evaluated clips and their captions (see retrieval.py)."""
    kept = df[out["index"], :]  # clips that decoded, in the order of out["audio"]
    texts, owner, written = clip_captions(kept, onto)
    if not texts:
        return {"skipped": "no clip has a caption or labels to write one from"}
    run.model.eval()
    text = torch.cat([run.model.encode_text(texts[i:i + 64]).float().cpu() for i in range(0, len(texts), 64)])
    res = retrieval_metrics(out["audio"], text, owner)
    res["captions_from_labels"] = written
    return res


def data_counts(bad, used: int) -> dict:
    """What a manifest gave: entries, clips used, skips by reason, and the labels that are no UTS
    id (left out of the clip's truth), for eval.json, the console and report.md."""
    return {"entries": bad.checked, "evaluated": used, "skipped": bad.skipped,
            "reasons": dict(sorted(bad.counts.items())), "labels_without_concept": sum(bad.unmapped_tags.values()),
            "label_examples": [tag for tag, _ in bad.unmapped_tags.most_common(3)], "summary": bad.summary()}


def _probe(run: Run, cfg, onto, test_df, test_out, train_manifest, space, device, strict: bool = False) -> dict:
    if not train_manifest or not Path(train_manifest).is_file():
        return {"skipped": f"probe training manifest not found: {train_manifest}"}
    train_df, bad = validate_manifest(read_manifest(train_manifest, onto=onto))
    if train_df.height == 0:
        raise EvalError(f"no usable clips in the probe's training manifest {train_manifest} ({bad.summary()})")
    bad.as_skipped().check(strict, train_manifest)
    d = cfg["data"]
    train_ds = ClipDataset(train_df, space, sample_rate=d["sample_rate"], clip_seconds=d["clip_seconds"], train=False)
    train_out = predict(run.model, run.objective, train_ds, cfg, device=device)
    for clip_id, reason in train_out["dropped"]:
        bad.add(clip_id, None, "undecodable", str(reason))
    ytr = domain_targets(train_df, onto)[train_out["index"]]
    yte = domain_targets(test_df, onto)[test_out["index"]]
    keep = (ytr.sum(0) > 0) & (yte.sum(0) > 0)  # domains seen in both splits
    if not keep.any():
        return {"skipped": "no domain occurs in both the probe's training and test clips"}
    res = linear_probe(train_out["embeddings"], ytr[:, keep], test_out["embeddings"], yte[:, keep])
    res["data"] = data_counts(bad, len(train_out["index"]))  # its skips are said too, not only counted
    res["task"] = "domain"
    res["targets"] = [dname for dname, k in zip(DOMAINS, keep) if k]
    return res
