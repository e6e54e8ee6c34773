"""Pool several mapped datasets into one training manifest, keeping track of what each annotated.

Every source's annotated label space (:func:`uts.ontology.annotated.annotated_concepts`) is
stored **once**, in a sidecar file next to the manifest (``NAME.sources.json`` beside
``NAME.jsonl``, ``NAME.jsonl.gz`` or ``NAME.parquet``); each clip names its source in a
``source`` column. A manifest written by ``uts map apply`` has one source and no ``source``
column: all its clips belong to the sidecar's only source.

Sidecar (``format: uts-sources/1``)::

    {"format": "uts-sources/1", "ontology_version": "1.0.0",
     "sampling": {"mode": "temperature", "temperature": 2.0},
     "sources": [{"id": "eval_segments", "clips": 20371, "origin": "...eval_segments.csv",
                  "weight": 0.56, "mapped": ["UTS:...", ...], "annotated": ["UTS:...", ...]}]}

``weight`` is the source's share of the training draws (:func:`sampling_weights`); a clip is
drawn with probability ``weight / clips`` of its source.
"""

from __future__ import annotations

import io
import json
import textwrap
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from uts.manifest import check_ids, typed_columns, write_manifest
from uts.ontology.files import (atomic_write_text, first_bad_json_line, is_parquet, read_bytes, table_format,
                               table_stem)
from uts.ontology import load
from uts.ontology.annotated import annotated_concepts
from uts.ontology.graph import ancestor_sets

SOURCES_FORMAT = "uts-sources/1"
SAMPLING_MODES = ("balanced", "proportional", "temperature")
SOURCE_COLUMN = "source"


class PoolError(ValueError):
    """Manifests cannot be pooled, or a sidecar cannot be read."""


@dataclass
class Source:
    id: str
    clips: int
    mapped: list[str]  # the concepts the source's labels map to
    annotated: list[str]  # mapped + fully covered ancestors (the annotated label space)
    origin: str | None = None  # the annotation file or manifest it came from
    weight: float | None = None  # share of training draws in a pooled manifest
    inferred_space: bool = False  # True: no sidecar, the space was read off the clips' labels


@dataclass
class Sources:
    sources: list[Source]
    sampling: dict = field(default_factory=dict)
    ontology_version: str | None = None

    def by_id(self) -> dict[str, Source]:
        return {s.id: s for s in self.sources}

    def to_dict(self) -> dict:
        return {"format": SOURCES_FORMAT, "ontology_version": self.ontology_version,
                "sampling": self.sampling, "sources": [asdict(s) for s in self.sources]}


# -- the sidecar -----------------------------------------------------------------------------
def sources_path(manifest: str | Path) -> Path:
    """``dir/NAME.sources.json`` for ``dir/NAME.jsonl`` (``.jsonl.gz``, ``.ndjson``, ``.parquet``)."""
    manifest = Path(manifest)
    return manifest.with_name(f"{table_stem(manifest)}.sources.json")


def write_sources(manifest: str | Path, sources: Sources) -> Path:
    """Write the sidecar of ``manifest`` (temporary file + rename)."""
    return atomic_write_text(sources_path(manifest), json.dumps(sources.to_dict(), indent=1, ensure_ascii=False) + "\n")


def read_sources(manifest: str | Path) -> Sources | None:
    """The sidecar of ``manifest``, or None when it has none."""
    path = sources_path(manifest)
    return read_sources_file(path) if path.is_file() else None


def read_sources_file(path: str | Path) -> Sources:
    """A sources file read by its own path."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PoolError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(data, dict) or data.get("format") != SOURCES_FORMAT:
        raise PoolError(f"{path}: not a UTS sources file (format {SOURCES_FORMAT} expected)")
    try:
        sources = [Source(**s) for s in data["sources"]]
    except (KeyError, TypeError) as exc:
        raise PoolError(f"{path}: bad source entry ({exc})") from None
    ids = [s.id for s in sources]
    if len(set(ids)) != len(ids):
        raise PoolError(f"{path}: source ids repeat")
    return Sources(sources, data.get("sampling") or {}, data.get("ontology_version"))


def active_graph(onto):
    """The hierarchy over active concepts (a deprecated child must not block a branch)."""
    return onto.graph.subgraph(c.id for c in onto.active())


def describe_source(source_id: str, mapped, graph, clips: int, origin: str | None = None) -> Source:
    """A :class:`Source` whose annotated space follows from ``mapped`` by the conservative rule."""
    return Source(source_id, int(clips), sorted(set(mapped)), sorted(annotated_concepts(graph, mapped)),
                  origin=origin)


# -- sampling --------------------------------------------------------------------------------
def sampling_weights(counts: dict[str, int], mode: str = "temperature", temperature: float = 2.0) -> dict[str, float]:
    """Each source's share of the draws: ``proportional`` (n_s / N, as concatenation),
    ``balanced`` (1 / S each) or ``temperature`` (n_s^(1/T), normalised: T = 1 is proportional,
    larger T moves towards balanced, as multilingual pre-training samples languages)."""
    if mode not in SAMPLING_MODES:
        raise PoolError(f"unknown sampling mode {mode!r}; choose from {', '.join(SAMPLING_MODES)}")
    if mode == "temperature" and not temperature > 0:
        raise PoolError("the sampling temperature must be positive")
    if not counts or any(n <= 0 for n in counts.values()):
        raise PoolError("every source needs at least one clip")
    if mode == "balanced":
        raw = {s: 1.0 for s in counts}
    elif mode == "proportional":
        raw = {s: float(n) for s, n in counts.items()}
    else:
        raw = {s: float(n) ** (1.0 / temperature) for s, n in counts.items()}
    total = sum(raw.values())
    return {s: v / total for s, v in raw.items()}


def clip_weights(source_of_clip: list[str], sources: Sources) -> list[float]:
    """Per-clip draw probabilities (summing to 1) from the sources' weights; sources without
    a weight share the remainder as if proportional."""
    by_id = sources.by_id()
    counts: dict[str, int] = {}
    for s in source_of_clip:
        counts[s] = counts.get(s, 0) + 1
    weights = {s: (by_id[s].weight if s in by_id and by_id[s].weight is not None else counts[s] / len(source_of_clip))
               for s in counts}
    total = sum(weights.values())
    return [weights[s] / total / counts[s] for s in source_of_clip]


# -- reading manifests -----------------------------------------------------------------------
def _read_frame(path: Path) -> pl.DataFrame:
    raw = None if is_parquet(path) else read_bytes(path)  # a broken .gz: CorruptFileError names it
    try:
        return pl.read_parquet(path) if raw is None else pl.read_ndjson(io.BytesIO(raw), infer_schema_length=None)
    except Exception as exc:  # polars' ComputeError and friends name no line: find it
        where = None if raw is None else first_bad_json_line(path)
        raise PoolError(where or f"{path}: not a flat manifest ({str(exc).splitlines()[0]})") from None


def load_source_manifest(path: str | Path, graph=None, source_id: str | None = None) -> tuple[pl.DataFrame, Sources]:
    """A manifest with its ``source`` column filled and its sources: from the sidecar, or, for a
    manifest without one (hand-made, ``uts synth``), one source named ``source_id`` (default:
    the file's stem) whose mapped concepts are the labels its clips use (``inferred_space``)."""
    path = Path(path)
    if not path.is_file():
        raise PoolError(f"manifest not found: {path}")
    df = _read_frame(path)
    if "labels" not in df.columns or "id" not in df.columns:
        raise PoolError(f"{path}: a manifest needs 'id' and 'labels' columns; found {', '.join(df.columns)}")
    if df.schema["labels"] not in (pl.List(pl.Utf8), pl.List(pl.Null), pl.Null):
        raise PoolError(f"{path}: column 'labels' must hold lists of concept ids; found {df.schema['labels']}")
    df = typed_columns(df, path).with_columns(pl.col("labels").fill_null([]))
    check_ids(df, path)
    if "audio_path" in df.columns:  # relative paths are relative to the manifest's folder
        base = str(path.parent.resolve())
        df = df.with_columns(pl.when(pl.col("audio_path").str.starts_with("/")).then(pl.col("audio_path"))
                             .otherwise(pl.lit(base + "/") + pl.col("audio_path")).alias("audio_path"))
    sources = read_sources(path)
    stem = sources_path(path).name[: -len(".sources.json")]
    if sources is None:
        if graph is None:
            raise PoolError(f"{path}: no sidecar {sources_path(path).name}; pass the ontology to infer its space")
        used = df["labels"].explode().drop_nulls().unique().to_list()
        sources = Sources([describe_source(source_id or stem, used, graph, df.height, str(path))])
        sources.sources[0].inferred_space = True
    elif source_id is not None:
        if len(sources.sources) != 1:
            raise PoolError(f"{path} pools {len(sources.sources)} sources; it cannot be renamed to {source_id!r}")
        sources.sources[0].id = source_id
    if SOURCE_COLUMN in df.columns and source_id is None:
        unknown = set(df[SOURCE_COLUMN].unique().to_list()) - set(sources.by_id())
        if unknown:
            raise PoolError(f"{path}: clips name source(s) its sidecar lacks: {', '.join(sorted(map(str, unknown)))}")
    elif len(sources.sources) == 1:
        df = df.with_columns(pl.lit(sources.sources[0].id).alias(SOURCE_COLUMN))
    else:
        raise PoolError(f"{path}: its sidecar lists {len(sources.sources)} sources but the clips have no "
                        f"'{SOURCE_COLUMN}' column")
    return df, sources


# -- pooling ---------------------------------------------------------------------------------
@dataclass
class PoolResult:
    manifest: Path
    sidecar: Path
    sources: Sources
    clips: int
    seconds: float
    peak_mib: float
    frame: pl.DataFrame | None = field(default=None, repr=False)  # what was written (for coverage)


def pool_manifests(inputs: list[str | Path], out: str | Path, onto=None, mode: str = "temperature",
                   temperature: float = 2.0, names: list[str] | None = None, prefix_ids: bool = False) -> PoolResult:
    """Combine mapped manifests into ``out`` plus its sidecar; returns what was written, with the
    time taken and the peak memory Python allocated (``tracemalloc``, polars' own buffers not
    included). ``names`` renames single-source inputs; ``prefix_ids`` makes clip ids
    ``SOURCE/ID`` (needed when two sources share ids). Nothing is written when any input fails."""
    if not inputs:
        raise PoolError("nothing to pool: give at least one manifest")
    if names is not None and len(names) != len(inputs):
        raise PoolError(f"{len(names)} names for {len(inputs)} manifests")
    started = time.perf_counter()
    tracemalloc.start()
    try:
        onto = onto if onto is not None else load()
        graph = active_graph(onto)
        frames, all_sources = [], []
        for i, path in enumerate(inputs):
            df, sources = load_source_manifest(path, graph, names[i] if names else None)
            frames.append(df)
            all_sources.extend(sources.sources)
        ids = [s.id for s in all_sources]
        dup = sorted({s for s in ids if ids.count(s) > 1})
        if dup:
            raise PoolError(f"source id {dup[0]!r} occurs in more than one input; rename with --name")
        pooled = pl.concat(frames, how="diagonal_relaxed")
        if prefix_ids:
            pooled = pooled.with_columns((pl.col(SOURCE_COLUMN) + "/" + pl.col("id")).alias("id"))
        clash = pooled["id"].is_duplicated()
        if clash.any():
            first = pooled.filter(clash)["id"][0]
            raise PoolError(f"clip id {first!r} occurs more than once across the inputs; pass --prefix-ids")
        counts = dict(pooled.group_by(SOURCE_COLUMN).len().iter_rows())
        for s in all_sources:
            s.clips = int(counts.get(s.id, 0))
        weights = sampling_weights({s.id: s.clips for s in all_sources}, mode, temperature)
        for s in all_sources:
            s.weight = weights[s.id]
        sampling = {"mode": mode} | ({"temperature": temperature} if mode == "temperature" else {})
        sources = Sources(all_sources, sampling, onto.meta.version)
        out = Path(out)
        if table_format(out) not in ("parquet", "jsonl"):
            raise PoolError(f"output must end in .jsonl, .jsonl.gz or .parquet, not {out.name}")
        write_manifest(pooled, out)
        sidecar = write_sources(out, sources)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return PoolResult(out, sidecar, sources, pooled.height, time.perf_counter() - started, peak / 2**20, pooled)


# -- coverage --------------------------------------------------------------------------------
def coverage(df: pl.DataFrame, sources: Sources, onto) -> dict:
    """Per UTS root and per source: how many of the root's concepts (itself and its active
    descendants) the source annotates, and how many of its clips have a positive under the root;
    plus the pooled union (``"pooled"``). Label combinations are resolved once each."""
    ancestors = ancestor_sets(onto.graph)  # once: a clip's roots are its labels' ancestors that are roots
    roots = onto.roots()
    active = {c.id for c in onto.active()}
    subtree = {r: ({r} | onto.descendants(r)) & active for r in roots}
    root_of: dict[str, set[str]] = {}

    root_set = set(roots)

    def roots_of(labels) -> set[str]:
        return {r for c in labels if c in ancestors for r in (ancestors[c] | {c}) & root_set}

    combos = df.group_by(SOURCE_COLUMN, pl.col("labels").list.sort().list.join("\x1f").alias("_k")).agg(
        n=pl.len(), labels=pl.col("labels").first())
    clips: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for src, _, n, labels in combos.iter_rows():
        key = "\x1f".join(sorted(labels or []))
        if key not in root_of:
            root_of[key] = roots_of(labels or [])
        totals[src] = totals.get(src, 0) + n
        for r in root_of[key]:
            clips.setdefault(src, {}).setdefault(r, 0)
            clips[src][r] += n
    rows = {}
    union: set[str] = set()
    for s in sources.sources:
        ann = set(s.annotated)
        union |= ann
        rows[s.id] = {"clips": totals.get(s.id, 0), "weight": s.weight,
                      "annotated": len(ann & active), "inferred_space": s.inferred_space,
                      "roots": {r: {"annotated": len(ann & subtree[r]), "concepts": len(subtree[r]),
                                    "clips": clips.get(s.id, {}).get(r, 0)} for r in roots}}
    rows["pooled"] = {"clips": sum(totals.values()), "weight": None, "annotated": len(union & active),
                      "inferred_space": False,
                      "roots": {r: {"annotated": len(union & subtree[r]), "concepts": len(subtree[r]),
                                    "clips": sum(c.get(r, 0) for c in clips.values())} for r in roots}}
    return {"roots": [{"id": r, "label": onto.get(r).label} for r in roots], "sources": rows,
            "ontology_version": onto.meta.version}


def coverage_table(report: dict) -> str:
    """A Markdown table: one row per source (and the pool), one column per root, each cell
    ``annotated/concepts (clips)``."""
    roots = report["roots"]
    head = "| source | clips | weight | annotated | " + " | ".join(r["label"] for r in roots) + " |"
    lines = [head, "|" + "---|" * (4 + len(roots))]
    for sid, row in report["sources"].items():
        weight = "" if row["weight"] is None else f"{row['weight']:.3f}"
        cells = [f"{row['roots'][r['id']]['annotated']}/{row['roots'][r['id']]['concepts']} "
                 f"({row['roots'][r['id']]['clips']})" for r in roots]
        name = sid + (" *" if row["inferred_space"] else "")
        lines.append(f"| {name} | {row['clips']} | {weight} | {row['annotated']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_coverage(report: dict, out: str | Path) -> Path:
    """Heat map: sources (and the pool) x UTS roots, colour = share of the root's concepts
    annotated, text = that share and the clips with a positive under the root."""
    # lazy: matplotlib costs ~0.3 s at import; only the plot needs it
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")

    roots = report["roots"]
    names = list(report["sources"])
    share = np.array([[report["sources"][s]["roots"][r["id"]]["annotated"] /
                       max(1, report["sources"][s]["roots"][r["id"]]["concepts"]) for r in roots] for s in names])
    fig, ax = plt.subplots(figsize=(1.6 + 1.25 * len(roots), 1.2 + 0.55 * len(names)))
    im = ax.imshow(share, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(roots)), [textwrap.fill(r["label"], 14) for r in roots], fontsize=8)
    ax.set_yticks(range(len(names)), names)
    for i, s in enumerate(names):
        for j, r in enumerate(roots):
            cell = report["sources"][s]["roots"][r["id"]]
            ax.text(j, i, f"{share[i, j]:.0%}\n{cell['clips']} clips", ha="center", va="center", fontsize=7,
                    color="white" if share[i, j] < 0.6 else "black")
    fig.colorbar(im, ax=ax, label="share annotated", shrink=0.9)
    ax.set_title("Annotated label space per UTS root")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
