"""Step 3 of the paper's pipeline: rank tags by TF-IDF and cut vocabularies of several sizes.

``Score(t) = df(t) * log((N + 1) / (df(t) + 1))`` where ``df(t)`` is the number of clips carrying
``t`` (a tag repeated within a clip counts once) and ``N`` the number of clips; ties are broken by
the tag (or concept id) in code-point order, so the ranking is fully deterministic.

Counting reads the file in chunks, so memory stays flat however many clips the file holds: plain
JSON Lines and Parquet tag files through the fast counter of :mod:`.count`, anything else (gzip,
Lhotse manifests, lines that counter does not decode) through a polars lazy query on the
streaming engine (explode + group_by). With an ontology, every distinct tag is resolved to UTS
concepts once; ``unit="concept"`` then counts concepts instead of strings (``drum``/``drums``/
``drumming`` are one entry, df counted per clip without double counting).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from uts.ontology.files import OPENS_LIKE_JSON, first_bad_json_line, is_gzip, is_parquet, read_bytes

from .count import FastPathUnavailable, count_jsonl, count_parquet, is_plain_jsonl
from .io import VocabError, detect_kind, scan_tags, size_name, write_json
from .stats import compute_stats, write_report

if TYPE_CHECKING:  # the ontology stack (rdflib, networkx) loads only when an ontology is used
    from uts.ontology.model import Ontology
    from uts.ontology.resolve import Resolver

PAPER_SIZES = (800, 1000, 1500, 2000, 3000)
BALANCED_DOMAINS = ("speech", "music", "sound")


def parse_size(token: str) -> int | None:
    """``800`` -> 800, ``1.5k`` -> 1500; None when ``token`` is not a size."""
    text = token.strip().lower()
    try:
        value = float(text[:-1]) * 1000 if text.endswith("k") else float(text)
    except ValueError:
        return None
    return int(value) if value > 0 and value == int(value) else None


def split_sizes(sizes: list[str], tokens: list[str]) -> tuple[str, list[int]]:
    """``(input path, sorted sizes)`` from the ``--sizes`` values and the positional tokens, where
    further sizes of ``--sizes 800 1000`` land (told apart from the path by being sizes)."""
    paths = [t for t in tokens if parse_size(t) is None]
    numbers = [*sizes, *(t for t in tokens if parse_size(t) is not None)]
    if len(paths) != 1:
        raise VocabError(f"expected one INPUT file, got {paths or 'none'}")
    bad = first_bad_size(numbers)
    if bad is not None:
        raise VocabError(f"not a vocabulary size: {bad!r}")
    return paths[0], sorted({parse_size(t) for t in numbers})


def first_bad_size(tokens: list[str]) -> str | None:
    """The first of ``tokens`` that is no vocabulary size (:func:`parse_size`), else None."""
    return next((t for t in tokens if parse_size(t) is None), None)


def tf_idf(df: int, n_clips: int) -> float:
    """The paper's score for one tag (reference implementation, used by tests and benchmarks)."""
    return df * math.log((n_clips + 1) / (df + 1))


def _score_expr(n_clips: int) -> pl.Expr:
    return pl.col("df") * ((n_clips + 1) / (pl.col("df") + 1)).log()


_CLEAN = pl.element().str.strip_chars().str.to_lowercase()


def count_tags(lf: pl.LazyFrame, source: str | os.PathLike = "input") -> tuple[int, int, pl.DataFrame]:
    """``(clips, clips with at least one tag, frame[tag, df])`` of the input, tags stripped and
    lowercased (empty ones dropped) before each clip's tags are de-duplicated.

    Plain JSON Lines and Parquet tag files take the fast path of :mod:`.count`, which normalises
    in its single pass. Everything else, and any file that path cannot decode, goes through a
    polars streaming query (:func:`_count_general`).
    """
    fast = _fast_counter(source)
    if fast is not None:
        try:
            n_clips, tagged, counts = fast()
            return _no_nested_tags(source, (n_clips, tagged, _tag_table(counts)))
        except (pl.exceptions.PolarsError, FastPathUnavailable):
            pass  # the general query below reads what it can and words the error
    try:
        return _no_nested_tags(source, _count_general(lf))
    except (pl.exceptions.PolarsError, OSError) as exc:  # OSError: polars' own gunzip of a broken .gz
        if isinstance(source, (str, os.PathLike)) and is_gzip(source):
            read_bytes(source)  # a broken gzip: raises CorruptFileError naming the file
        where = first_bad_json_line(source) if isinstance(source, (str, os.PathLike)) else None
        if where:
            raise VocabError(f"{where} (each line must be a JSON object whose 'tags' is a list of strings)") from None
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise VocabError(f"cannot read tags from {source}: {reason} "
                         "(each line must be a JSON object whose 'tags' is a list of strings)") from None


def _no_nested_tags(source, counted: tuple[int, int, pl.DataFrame]) -> tuple[int, int, pl.DataFrame]:
    """``counted``, unless a tag is a nested list polars read as text (``[["dog"]]`` counts as the
    tag '["dog"]'): then the file's line that holds it is an error. Only the distinct tags are
    looked at, and the file is read again only when one opens like JSON (:data:`OPENS_LIKE_JSON`)."""
    tags = counted[2]["tag"]
    if isinstance(source, (str, os.PathLike)) and tags.str.contains(OPENS_LIKE_JSON).any():
        where = first_bad_json_line(source, lists_of_strings=("tags",))
        if where:
            raise VocabError(where)
    return counted


def _fast_counter(source):
    """The fast counting function for ``source`` (a path), or None when it does not apply."""
    try:
        path = Path(source)
        if not path.is_file() or detect_kind(path) != "tags":
            return None
        if is_parquet(path):
            return lambda: count_parquet(path)
        return (lambda: count_jsonl(path)) if is_plain_jsonl(path) else None
    except (OSError, VocabError, TypeError):
        return None


def _count_query(lf: pl.LazyFrame, clean: bool) -> tuple[int, int, pl.DataFrame]:
    """The general path: one streaming query (``clean``: normalise each tag inside each clip)."""
    if clean:
        tags = pl.col("tags").list.eval(_CLEAN).list.unique().list.eval(pl.element().filter(pl.element() != ""))
        tagged = pl.col("tags").list.eval(_CLEAN.filter(_CLEAN != "")).list.len() > 0
    else:
        tags = pl.col("tags").list.unique()
        tagged = pl.col("tags").list.drop_nulls().list.len() > 0
    counts_q = lf.select(tags).explode("tags").drop_nulls().group_by("tags").len(name="df")
    clips_q = lf.select(pl.len().alias("clips"), tagged.sum().alias("tagged"))
    counts, clips = pl.collect_all([counts_q, clips_q], engine="streaming")
    n_clips, n_tagged = clips.row(0)
    return int(n_clips), int(n_tagged or 0), counts


def _count_general(lf: pl.LazyFrame) -> tuple[int, int, pl.DataFrame]:
    """The general query counts raw strings and normalises the distinct ones afterwards; that is
    exact unless two raw spellings collapse into one tag (``Drum``/``drum``) or a tag is only
    spaces, in which case the input is counted again with normalisation per clip."""
    n_clips, tagged, counts = _count_query(lf, False)
    cleaned = counts.with_columns(pl.col("tags").str.strip_chars().str.to_lowercase())
    cleaned = cleaned.filter(pl.col("tags") != "")
    if cleaned["tags"].n_unique() < cleaned.height or cleaned.height < counts.height:
        n_clips, tagged, cleaned = _count_query(lf, True)
    return n_clips, tagged, _tag_table(cleaned)


def _tag_table(counts: pl.DataFrame) -> pl.DataFrame:
    return counts.rename({"tags": "tag"}).with_columns(pl.col("df").cast(pl.Int64))


def rank(table: pl.DataFrame, key: str, n_clips: int) -> pl.DataFrame:
    """Sort by score (descending), then by ``key`` (ascending); adds ``score`` and ``rank``."""
    return (table.with_columns(_score_expr(n_clips).alias("score"))
            .sort(["score", key], descending=[True, False])
            .with_row_index("rank"))


@dataclass
class VocabResult:
    n_clips: int
    tagged_clips: int
    unit: str
    ranking: pl.DataFrame  # rank, item, label, df, score, domain, concept_ids
    selections: dict[int, pl.DataFrame] = field(default_factory=dict)
    concept_vocabs: dict[int, list[dict]] = field(default_factory=dict)
    tag_table: pl.DataFrame | None = None  # tag, df, concept_ids (always tag-level)
    coverage: dict[int, int] = field(default_factory=dict)  # size -> clips keeping >= 1 tag

    def summary(self) -> str:
        """One line: clips, items ranked, and each size's document-frequency cut."""
        cuts = ", ".join(f"{s}: df>={c.tail(1)['df'][0]}" for s, c in self.selections.items() if c.height)
        return f"{self.n_clips} clips, {self.ranking.height} {self.unit}s ranked; {cuts}"


def tag_mapping(lf: pl.LazyFrame, tags: pl.Series, resolver: Resolver | None,
                 has_ids: bool) -> pl.DataFrame:
    """``tag -> concept`` pairs: taken from the input's ``concept_ids`` when it has them (they may
    include embedding matches), except for tags the reviewed alignment decides (``--alignment``
    wins, as in ``vocab filter`` and ``map apply``), else from resolving each distinct tag lexically."""
    if has_ids:
        try:
            pairs = (lf.select(pl.col("tags"), pl.col("concept_ids"))
                     .explode(["tags", "concept_ids"]).explode("concept_ids").drop_nulls()
                     .select(pl.col("tags").str.strip_chars().str.to_lowercase().alias("tag"),
                             pl.col("concept_ids").alias("concept"))
                     .unique().collect(engine="streaming"))
        except pl.exceptions.PolarsError as exc:
            raise VocabError("'concept_ids' must hold one list of ids per tag "
                             f"({str(exc).strip().splitlines()[0]})") from None
        # Ids recorded against another version of the ontology: follow replacements, drop unknown.
        onto = resolver.onto
        decided = {t: ids for t in tags.to_list() if (ids := resolver.decided(t)) is not None}
        rows = sorted({(t, cur) for t, cid in pairs.iter_rows() if t not in decided for cur in onto.current_ids(cid)}
                      | {(t, cid) for t, ids in decided.items() for cid in ids})
    else:
        rows = [(t, cid) for t in tags.to_list() for cid in resolver.ids(t)] if resolver else []
    return pl.DataFrame(rows, schema={"tag": pl.Utf8, "concept": pl.Utf8}, orient="row")


_SEP = "\x1f"  # joins the ids of an ambiguous tag; cannot occur in a concept id


def count_concepts(lf: pl.LazyFrame, mapping: pl.DataFrame) -> pl.DataFrame:
    """``frame[concept, df]``: clips per concept, each clip counted once however many of its
    tags resolve to the concept. Tags are mapped to concepts inside each clip's list, so the
    streaming query never holds a global (clip, concept) table."""
    per_tag = mapping.group_by("tag").agg(pl.col("concept").sort().str.join(_SEP))
    to_ids = _CLEAN.replace_strict(per_tag["tag"].to_list(), per_tag["concept"].to_list(), default=None,
                                 return_dtype=pl.Utf8)
    ids = (pl.col("tags").list.eval(to_ids).list.drop_nulls().list.join(_SEP)
           .str.split(_SEP).list.unique().alias("concept"))
    return (lf.select(ids).explode("concept").filter(pl.col("concept").str.len_bytes() > 0)
            .group_by("concept").len(name="df").with_columns(pl.col("df").cast(pl.Int64))
            .collect(engine="streaming"))


def in_background(job: Callable[[], object]) -> Future:
    """Run ``job`` on a thread of its own. Counting spends its time in polars and numpy, outside
    the GIL, so pure-Python work started here (loading an ontology, importing matplotlib) runs
    alongside it instead of before or after it."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="uts-vocab")
    try:
        return pool.submit(job)
    finally:
        pool.shutdown(wait=False)


def load_ontology_in_background(loader: Callable[[], Ontology], curated: dict | None = None) -> Future:
    """``Future[(ontology, its Resolver)]``: pass it as ``onto`` to
    :func:`build_vocabulary`, which waits for it only once the tags are counted. ``curated``:
    a reviewed alignment's tag -> ids (``MappingSet.curated_labels()``), the resolver's context
    rule for this data set's tags, or a function that reads them (then read on the thread too)."""
    def job():
        from uts.ontology.resolve import Resolver  # lazy: imported on this thread, overlapping the count

        onto = loader()
        return onto, Resolver(onto, curated() if callable(curated) else curated)
    return in_background(job)


def _import_matplotlib() -> None:
    """What :func:`.stats.plot_stats` imports (about a third of a second of pure Python)."""
    # lazy: warms matplotlib on a thread while polars counts; never at start-up
    import matplotlib
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401

    matplotlib.use("Agg")


def _curated_labels(alignment: str | os.PathLike) -> dict:
    from uts.mapping.sssom import read_sssom  # lazy: only with --alignment

    return read_sssom(alignment).curated_labels()


def build_and_write(
    input_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    sizes: list[int] | tuple[int, ...] = PAPER_SIZES,
    *,
    use_ontology: bool = True,
    ontology_path: str | os.PathLike | None = None,
    alignment: str | os.PathLike | None = None,
    plot: bool = True,
    unit: str = "tag",
    balance: float | None = None,
    closure: bool = False,
    coverage: bool = False,
) -> VocabResult:
    """``uts vocab build``: count, rank, cut and write every output into ``out_dir``.

    ``use_ontology=False`` keeps plain strings (the paper); otherwise tags resolve against
    ``ontology_path`` (None: the default ontology), with ``alignment``'s reviewed decisions first.
    Loading those and importing matplotlib (for ``plot``) are pure Python: they start on threads
    here and run while polars counts the tags outside the GIL, instead of before or after."""
    if not use_ontology and alignment is not None:
        raise VocabError("--alignment needs an ontology (not --ontology none)")
    pending = None
    if use_ontology:
        if ontology_path is not None and not Path(ontology_path).is_file():
            raise VocabError(f"ontology file not found: {ontology_path}")
        if alignment is not None and not Path(alignment).is_file():
            raise VocabError(f"alignment file not found: {alignment}")
        from uts.ontology import load  # lazy: --ontology none never loads the ontology stack

        curated = (lambda: _curated_labels(alignment)) if alignment is not None else None
        pending = load_ontology_in_background(lambda: load(ontology_path), curated)
    if plot:
        in_background(_import_matplotlib)
    result = build_vocabulary(input_path, sizes, onto=pending, unit=unit, balance=balance,
                              closure=closure, coverage=coverage)
    write_outputs(result, out_dir, pending.result()[0] if pending is not None else None, plot=plot)
    return result


def build_vocabulary(
    input_path: str | os.PathLike,
    sizes: list[int] | tuple[int, ...] = PAPER_SIZES,
    onto: Ontology | Future | None = None,
    unit: str = "tag",
    balance: float | None = None,
    closure: bool = False,
    coverage: bool = False,
    curated: dict | None = None,
) -> VocabResult:
    """Count, rank and cut. ``balance`` is the minimum share of each size reserved for each of
    speech, music and sound (e.g. 0.15); ``closure`` adds the ancestors of selected concepts;
    ``coverage`` makes one more pass to count the clips each vocabulary keeps (step 4).
    ``onto`` may be a :func:`load_ontology_in_background` future (loading overlaps counting)."""
    if unit not in ("tag", "concept"):
        raise VocabError(f"unit must be 'tag' or 'concept', not {unit!r}")
    if not sizes or any(s <= 0 for s in sizes):
        raise VocabError("sizes must be positive integers")
    if onto is None and (unit == "concept" or balance or closure):
        raise VocabError("--unit concept, --balance and --closure need an ontology (not --ontology none)")
    if balance is not None and not 0 < balance <= 1 / len(BALANCED_DOMAINS):
        raise VocabError(f"--balance must be a share in (0, {1 / len(BALANCED_DOMAINS):.3f}]")
    lf = scan_tags(input_path)
    has_ids = "concept_ids" in lf.collect_schema().names()
    n_clips, tagged, tag_df = count_tags(lf, input_path)
    if tag_df.height == 0:
        raise VocabError(f"{input_path}: no tags found in {n_clips} clips")

    resolver = None
    if isinstance(onto, Future):
        onto, resolver = onto.result()
    elif onto is not None:
        from uts.ontology.resolve import Resolver  # lazy: --ontology none never loads the stack

        resolver = Resolver(onto, curated)
    mapping = tag_mapping(lf, tag_df["tag"], resolver, has_ids) if onto is not None else None
    domains: dict[str, str] = {}

    def domain(cid: str) -> str:
        from uts.ontology.graph import concept_domain  # lazy: as above

        if cid not in domains:
            domains[cid] = concept_domain(onto, cid)
        return domains[cid]

    if mapping is not None:
        ids_per_tag = mapping.group_by("tag").agg(pl.col("concept").sort().alias("concept_ids"))
        tag_table = tag_df.join(ids_per_tag, on="tag", how="left").with_columns(
            pl.col("concept_ids").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))))
    else:
        tag_table = tag_df.with_columns(pl.lit([], dtype=pl.List(pl.Utf8)).alias("concept_ids"))

    if unit == "tag":
        ranked = rank(tag_table, "tag", n_clips).rename({"tag": "item"})
        first_ids = [ids[0] if ids else None for ids in ranked["concept_ids"].to_list()]
        ranked = ranked.with_columns(
            pl.col("item").alias("label"),
            pl.Series("domain", [domain(i) if i else "unresolved" for i in first_ids], dtype=pl.Utf8),
        )
    else:
        concept_df = count_concepts(lf, mapping) if mapping.height else mapping.head(0)
        if concept_df.height == 0:
            raise VocabError("no tag resolves to a concept of the ontology; use --unit tag")
        ranked = rank(concept_df, "concept", n_clips).rename({"concept": "item"})
        ids = ranked["item"].to_list()
        ranked = ranked.with_columns(
            pl.Series("label", [onto.concepts[i].label for i in ids], dtype=pl.Utf8),
            pl.Series("domain", [domain(i) for i in ids], dtype=pl.Utf8),
            pl.Series("concept_ids", [[i] for i in ids], dtype=pl.List(pl.Utf8)),
        )
    ranked = ranked.select("rank", "item", "label", "df", "score", "domain", "concept_ids")
    result = VocabResult(n_clips, tagged, unit, ranked, tag_table=tag_table)
    for size in sorted(set(sizes)):
        chosen = select(ranked, size, balance)
        result.selections[size] = chosen
        if onto is not None:
            result.concept_vocabs[size] = concept_vocabulary(chosen, onto, closure, domain, mapping, unit)
    if coverage:
        result.coverage = count_coverage(lf, result, mapping)
    return result


def count_coverage(lf: pl.LazyFrame, result: VocabResult, mapping: pl.DataFrame | None) -> dict[int, int]:
    """Clips that keep at least one tag under each vocabulary, as ``uts vocab filter`` would
    leave them, in one streaming pass: every tag carries a bit per size that keeps it, each clip
    ORs its tags' bits, and each bit is summed."""
    sizes = sorted(result.selections)
    if len(sizes) > 63:
        raise VocabError("coverage is counted for at most 63 sizes at once")
    bits: dict[str, int] = {}
    for i, size in enumerate(sizes):
        if result.unit == "tag":
            kept = set(result.selections[size]["item"].to_list())
        else:
            ids = {e["id"] for e in result.concept_vocabs[size]}
            kept = set(mapping.filter(pl.col("concept").is_in(list(ids)))["tag"].to_list())
        for tag in kept:
            bits[tag] = bits.get(tag, 0) | (1 << i)
    if not bits:
        return {size: 0 for size in sizes}
    mask = (pl.col("tags").list.eval(_CLEAN.replace_strict(list(bits), list(bits.values()), default=0,
                                                           return_dtype=pl.UInt64).bitwise_or())
            .list.first().fill_null(0).alias("mask"))
    counts = (lf.select(mask).select([((pl.col("mask") & (1 << i)) != 0).sum().alias(str(s))
                                      for i, s in enumerate(sizes)])
              .collect(engine="streaming"))
    return {size: int(counts[str(size)][0]) for size in sizes}


def select(ranked: pl.DataFrame, size: int, balance: float | None = None) -> pl.DataFrame:
    """The top ``size`` items; with ``balance``, each of speech/music/sound first gets its best
    ``ceil(size * balance)`` items (or all it has), the rest go by global rank."""
    if not balance:
        return ranked.head(size)
    quota = math.ceil(size * balance)
    reserved = pl.concat([ranked.filter(pl.col("domain") == d).head(quota) for d in BALANCED_DOMAINS])
    rest = ranked.join(reserved.select("rank"), on="rank", how="anti").head(max(size - reserved.height, 0))
    return pl.concat([reserved, rest]).sort("rank")


def concept_vocabulary(chosen: pl.DataFrame, onto: Ontology, closure: bool, domain, mapping, unit) -> list[dict]:
    """The UTS concepts behind a selection (ids, labels, domains), deduplicated in rank order,
    plus their ancestors flagged ``closure`` when asked."""
    out: list[dict] = []
    index: dict[str, dict] = {}
    for row in chosen.iter_rows(named=True):
        for cid in row["concept_ids"]:
            if cid not in index:
                entry = {"id": cid, "label": onto.concepts[cid].label, "domain": domain(cid),
                         "rank": row["rank"], "df": row["df"] if unit == "concept" else None,
                         "score": row["score"] if unit == "concept" else None, "tags": []}
                index[cid] = entry
                out.append(entry)
            if unit == "tag":
                index[cid]["tags"].append(row["item"])
    if unit == "concept" and mapping is not None:
        tags_of = mapping.filter(pl.col("concept").is_in(list(index))).group_by("concept").agg(pl.col("tag").sort())
        for cid, tags in tags_of.iter_rows():
            index[cid]["tags"] = tags
    if closure:
        extra = sorted({a for cid in index for a in onto.ancestors(cid)} - set(index),
                       key=lambda a: (onto.depth(a), a))
        for a in extra:
            if not onto.concepts[a].deprecated:
                out.append({"id": a, "label": onto.concepts[a].label, "domain": domain(a),
                            "rank": None, "df": None, "score": None, "tags": [], "closure": True})
    for i, entry in enumerate(out):
        entry["index"] = i
    return out


def _unique_labels(entries: list[dict]) -> list[str]:
    """Concept labels are unique per id, not per string: qualify a repeated label by its domain,
    and by its id if that is not enough, so every id2label entry names one concept."""
    def counts(names):
        seen: dict[str, int] = {}
        for n in names:
            seen[n] = seen.get(n, 0) + 1
        return seen

    labels = [e["label"] for e in entries]
    n = counts(labels)
    labels = [f"{lab} ({e['domain']})" if n[lab] > 1 else lab for lab, e in zip(labels, entries)]
    n = counts(labels)
    return [f"{lab} [{e['id']}]" if n[lab] > 1 else lab for lab, e in zip(labels, entries)]


def write_outputs(result: VocabResult, out_dir: str | os.PathLike, onto: Ontology | None = None,
                  plot: bool = True) -> list[Path]:
    """Write ``label_<size>.json`` (the paper's id2label form), ``concepts_<size>.json`` when an
    ontology was used, ``ranking.csv`` and the stats report; returns the written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for size, chosen in result.selections.items():
        name = size_name(size)
        entries = result.concept_vocabs.get(size)
        if result.unit == "concept":
            labels = _unique_labels(entries)
        else:
            labels = chosen["item"].to_list()
        path = out_dir / f"label_{name}.json"
        write_json(path, {str(i): label for i, label in enumerate(labels)})
        written.append(path)
        if entries is not None:
            path = out_dir / f"concepts_{name}.json"
            write_json(path, {
                "unit": result.unit, "size": size, "n_clips": result.n_clips,
                "ontology_version": onto.meta.version if onto is not None else None,
                "concepts": entries,
            })
            written.append(path)
    ranking_path = out_dir / "ranking.csv"
    result.ranking.with_columns(pl.col("concept_ids").list.join(";")).write_csv(ranking_path)
    written.append(ranking_path)
    stats = compute_stats(result)
    written.extend(write_report(stats, result, out_dir, plot=plot))
    return written


__all__ = [
    "PAPER_SIZES", "VocabResult", "build_and_write", "build_vocabulary", "count_concepts", "count_tags",
    "rank", "select", "size_name", "tf_idf", "write_outputs",
]
