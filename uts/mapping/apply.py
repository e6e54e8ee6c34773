"""Turn a dataset's annotations into UTS labels through an SSSOM mapping.

Every clip gets ``labels`` (the target concepts its own labels map to) and ``inferred`` (their
ancestors, added by closure over the target hierarchy, minus the annotated ones), next to its
``source_labels`` and, where the source has them, ``audio_path``, ``start``, ``duration`` and
``caption``. Everything is a polars lazy query run on the streaming engine: label lookup and
closure are dictionary replacements inside list expressions, so a million clips never become
Python objects.

Which mapping rows are used: exactMatch, closeMatch and broadMatch (a clip tagged "acid jazz"
is a Jazz clip). narrowMatch is left out by default (a clip tagged "drum" is not necessarily a
snare-drum clip), and so are rejected rows (``predicate_modifier: Not``).
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from uts.ontology.normalize import normalize_label

from .labelsets import LabelSet
from .sssom import BROAD, CLOSE, EXACT, NO_TERM_FOUND, MappingSet

APPLY_PREDICATES = (EXACT, CLOSE, BROAD)
ANNOTATION_FORMATS = ("audioset", "mtg-jamendo", "lhotse", "table")
OPTIONAL_COLUMNS = ("audio_path", "start", "duration", "caption")
_AUDIO_ALIASES = ("audio_path", "audio_filepath", "audio", "path", "file", "filename", "wav")
_LINE = "__line"


class ApplyError(ValueError):
    """The annotations or the mapping cannot be applied."""


@dataclass
class Annotations:
    """A dataset's clips as a lazy frame with ``id``, ``source_labels`` (list of str) and any of
    :data:`OPTIONAL_COLUMNS`; ``key`` says how labels are looked up in the mapping: by subject
    id (``"id"``, labels already written as CURIEs) or by label text (``"text"``)."""

    frame: pl.LazyFrame
    key: str
    format: str


@dataclass
class ApplyReport:
    clips: int = 0
    clips_without_labels: int = 0
    label_occurrences: int = 0
    unmapped_occurrences: int = 0
    unmapped_labels: dict[str, int] = field(default_factory=dict)  # label -> occurrences

    def as_dict(self) -> dict:
        return {"clips": self.clips, "clips_without_labels": self.clips_without_labels,
                "label_occurrences": self.label_occurrences,
                "unmapped_occurrences": self.unmapped_occurrences,
                "unmapped_labels": self.unmapped_labels}


# -- reading annotations ---------------------------------------------------------------------
def _lines(path: Path) -> pl.LazyFrame:
    """A text file as one string column, one row per line (no CSV quoting rules applied)."""
    return pl.scan_csv(path, has_header=False, separator="\x1f", quote_char=None,
                       new_columns=[_LINE], schema_overrides={_LINE: pl.Utf8})


def read_audioset_segments(path: str | Path) -> Annotations:
    """AudioSet segment CSVs: ``YTID, start_seconds, end_seconds, "mid,mid,..."`` with or without
    the ``#`` comment header of the official release. ``id`` is ``YTID_start``."""
    path = Path(path)
    rows = (
        _lines(path)
        .filter(~pl.col(_LINE).str.starts_with("#") & ~pl.col(_LINE).str.starts_with("YTID"))
        .select(pl.col(_LINE).str.strip_chars_end("\r")
                .str.extract_groups(r'^([^,]+),\s*([0-9.]+),\s*([0-9.]+),\s*"?([^"]*)"?\s*$').alias("m"))
        .unnest("m")
        .rename({"1": "ytid", "2": "start_s", "3": "end_s", "4": "labels"})
        .filter(pl.col("ytid").is_not_null())
        .select(
            id=pl.concat_str([pl.col("ytid"), pl.col("start_s")], separator="_"),
            start=pl.col("start_s").cast(pl.Float64),
            duration=(pl.col("end_s").cast(pl.Float64) - pl.col("start_s").cast(pl.Float64)).round(3),
            source_labels=pl.col("labels").str.split(",").list.eval(
                pl.concat_str([pl.lit("AudioSet:"), pl.element().str.strip_chars()])),
        )
    )
    return Annotations(rows, "id", "audioset")


def read_mtg_jamendo_annotations(path: str | Path) -> Annotations:
    """MTG-Jamendo ``TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS...`` TSVs."""
    path = Path(path)
    parts = (
        _lines(path)
        .filter(~pl.col(_LINE).str.starts_with("TRACK_ID"))
        .select(pl.col(_LINE).str.strip_chars_end("\r").str.split("\t").alias("p"))
    )
    rows = parts.select(
        id=pl.col("p").list.get(0),
        audio_path=pl.col("p").list.get(3, null_on_oob=True),
        duration=pl.col("p").list.get(4, null_on_oob=True).cast(pl.Float64, strict=False),
        source_labels=pl.col("p").list.slice(5).list.eval(
            pl.concat_str([pl.lit("MTGJamendo:"),
                           pl.element().str.replace_all(r"[^A-Za-z0-9_.-]+", "_").str.strip_chars("_.")])),
    )
    return Annotations(rows, "id", "mtg-jamendo")


def read_lhotse_annotations(path: str | Path) -> Annotations:
    """Lhotse cut manifests (tags in ``supervisions[0].custom.audio_tag``), via :mod:`uts.lhotse`."""
    from uts.lhotse import read_cuts

    frame = read_cuts(path).rename({"audio_tag": "source_labels"})
    return Annotations(frame.lazy(), "text", "lhotse")


def read_table_annotations(path: str | Path, tags_column: str = "tags", id_column: str = "id",
                           separator: str = ",") -> Annotations:
    """Generic CSV/TSV/Parquet/JSONL with a tags column (a list, or a ``separator``-joined string)."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".parquet"):
        frame = pl.scan_parquet(path)
    elif name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".json")):
        frame = pl.read_ndjson(path).lazy() if name.endswith(".gz") else pl.scan_ndjson(path)
    else:
        frame = pl.scan_csv(path, separator="\t" if ".tsv" in name else ",", infer_schema_length=10000)
    schema = frame.collect_schema()
    if tags_column not in schema:
        raise ApplyError(f"{path}: no tags column {tags_column!r}; columns: {', '.join(schema.names())}")
    cols = []
    if id_column in schema:
        cols.append(pl.col(id_column).cast(pl.Utf8).alias("id"))
    else:
        frame = frame.with_row_index("__row")
        cols.append(pl.col("__row").cast(pl.Utf8).alias("id"))
    audio = next((c for c in _AUDIO_ALIASES if c in schema), None)
    if audio:
        cols.append(pl.col(audio).cast(pl.Utf8).alias("audio_path"))
    for c in ("start", "duration"):
        if c in schema:
            cols.append(pl.col(c).cast(pl.Float64).alias(c))
    if "caption" in schema:
        cols.append(pl.col("caption").cast(pl.Utf8))
    tags = pl.col(tags_column)
    if not isinstance(schema[tags_column], pl.List):
        tags = tags.cast(pl.Utf8).str.split(separator).list.eval(pl.element().str.strip_chars()).list.eval(
            pl.element().filter(pl.element() != ""))
    cols.append(tags.alias("source_labels"))
    return Annotations(frame.select(cols), "text", "table")


def detect_annotation_format(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise ApplyError(f"no annotation file at {path}")
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "table"
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        head = fh.read(4096)
    if head.startswith("TRACK_ID\t"):
        return "mtg-jamendo"
    if head.startswith("YTID,") or "# YTID" in head or "num_ytids" in head:
        return "audioset"
    if '"supervisions"' in head and '"recording"' in head:
        return "lhotse"
    return "table"


def read_annotations(path: str | Path, format: str | None = None, tags_column: str = "tags",
                     id_column: str = "id", separator: str = ",") -> Annotations:
    fmt = format or detect_annotation_format(path)
    if not Path(path).is_file():
        raise ApplyError(f"no annotation file at {path}")
    if fmt == "audioset":
        return read_audioset_segments(path)
    if fmt == "mtg-jamendo":
        return read_mtg_jamendo_annotations(path)
    if fmt == "lhotse":
        return read_lhotse_annotations(path)
    if fmt == "table":
        return read_table_annotations(path, tags_column, id_column, separator)
    raise ApplyError(f"unknown annotation format {fmt!r}; choose one of {', '.join(ANNOTATION_FORMATS)}")


# -- mapping tables --------------------------------------------------------------------------
def mapping_table(mapping: MappingSet, predicates=APPLY_PREDICATES) -> dict[str, str]:
    """subject_id -> object_id for the rows to apply (one decided mapping per subject)."""
    table: dict[str, str] = {}
    for m in mapping.mappings:
        if m.negated or m.object_id == NO_TERM_FOUND or m.predicate_id not in predicates:
            continue
        table.setdefault(m.subject_id, m.object_id)
    return table


def text_table(mapping: MappingSet, labels: list[str], predicates=APPLY_PREDICATES) -> dict[str, str]:
    """Label text as found in a dataset -> object_id, matching subject labels exactly first and
    then by normalised form (``Hi-Hats`` finds a mapping made for ``hi_hat``)."""
    by_id = mapping_table(mapping, predicates)
    exact: dict[str, str] = {}
    normal: dict[str, str] = {}
    for m in mapping.mappings:
        if m.subject_id in by_id and m.subject_label:
            exact.setdefault(m.subject_label, by_id[m.subject_id])
            normal.setdefault(normalize_label(m.subject_label), by_id[m.subject_id])
    out = {}
    for text in labels:
        hit = exact.get(text) or by_id.get(text) or normal.get(normalize_label(text))
        if hit:
            out[text] = hit
    return out


def closure(target: LabelSet, ids=None) -> dict[str, list[str]]:
    """id -> sorted ancestor ids in the target hierarchy."""
    ids = target.labels if ids is None else ids
    return {i: sorted(target.ancestors(i)) for i in ids if i in target}


# -- applying --------------------------------------------------------------------------------
def apply_mapping(annotations: Annotations, table: dict[str, str],
                  ancestors: dict[str, list[str]]) -> pl.LazyFrame:
    """The lazy output frame: ``id, labels, inferred, [audio_path, start, duration, caption],
    source_labels``. Lists are sorted and free of duplicates."""
    frame = annotations.frame
    names = frame.collect_schema().names()
    if table:
        labels = pl.col("source_labels").list.eval(
            pl.element().replace_strict(table, default=None, return_dtype=pl.Utf8).drop_nulls().unique().sort())
    else:
        labels = pl.col("source_labels").list.eval(pl.element().filter(pl.lit(False)))
    anc = {k: v for k, v in ancestors.items() if v}
    if anc:
        inferred = pl.col("labels").list.eval(
            pl.element().replace_strict(anc, default=[], return_dtype=pl.List(pl.Utf8))
            .list.explode(keep_nulls=False, empty_as_null=False).unique().sort()
        ).list.set_difference(pl.col("labels")).list.sort()
    else:
        inferred = pl.col("labels").list.eval(pl.element().filter(pl.lit(False)))
    ordered = ["id", "labels", "inferred", *[c for c in OPTIONAL_COLUMNS if c in names], "source_labels"]
    return (frame.with_columns(labels=labels.cast(pl.List(pl.Utf8)))
            .with_columns(inferred=inferred.cast(pl.List(pl.Utf8)))
            .select(ordered))


def write_frame(frame: pl.LazyFrame, out: str | Path) -> Path:
    """Stream to ``.parquet`` or ``.jsonl`` (``.jsonl.gz`` is collected, then compressed)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    name = out.name.lower()
    try:
        if name.endswith(".parquet"):
            frame.sink_parquet(tmp)
        elif name.endswith((".jsonl", ".ndjson")):
            frame.sink_ndjson(tmp)
        elif name.endswith(".jsonl.gz"):
            buf = io.BytesIO()
            frame.collect(engine="streaming").write_ndjson(buf)
            with gzip.open(tmp, "wb") as fh:
                fh.write(buf.getvalue())
        else:
            raise ApplyError(f"output must end in .parquet, .jsonl or .jsonl.gz, not {out.name}")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def report(annotations: Annotations, table: dict[str, str], output: pl.LazyFrame) -> ApplyReport:
    """Counts of clips, clips left without any label, and unmapped label occurrences."""
    counts = output.select(clips=pl.len(), empty=(pl.col("labels").list.len() == 0).sum()).collect(engine="streaming")
    occurrences = (annotations.frame.select(pl.col("source_labels").explode().alias("label"))
                   .filter(pl.col("label").is_not_null())
                   .group_by("label").agg(pl.len().alias("n")).collect(engine="streaming"))
    total = int(occurrences["n"].sum()) if len(occurrences) else 0
    unmapped = occurrences.filter(~pl.col("label").is_in(list(table))).sort(["n", "label"], descending=[True, False])
    return ApplyReport(
        clips=int(counts["clips"][0]), clips_without_labels=int(counts["empty"][0]),
        label_occurrences=total, unmapped_occurrences=int(unmapped["n"].sum()) if len(unmapped) else 0,
        unmapped_labels=dict(zip(unmapped["label"].to_list(), unmapped["n"].to_list())),
    )


def apply_file(annotations_path: str | Path, mapping: MappingSet, target: LabelSet, out: str | Path,
               format: str | None = None, predicates=APPLY_PREDICATES, tags_column: str = "tags",
               id_column: str = "id", separator: str = ",") -> ApplyReport:
    """Read annotations, map them, write ``out`` and return the report."""
    ann = read_annotations(annotations_path, format, tags_column, id_column, separator)
    if ann.key == "text":
        values = (ann.frame.select(pl.col("source_labels").explode().drop_nulls().unique())
                  .collect(engine="streaming").to_series().to_list())
        table = text_table(mapping, values, predicates)
    else:
        table = mapping_table(mapping, predicates)
    missing = sorted({o for o in table.values() if o not in target})
    if missing:
        raise ApplyError(f"{len(missing)} mapped target id(s) are not in the target {target.name} "
                         f"(e.g. {missing[0]}); pass the target the mapping was made for (--target)")
    ancestors = closure(target, set(table.values()))
    frame = apply_mapping(ann, table, ancestors)
    write_frame(frame, out)
    return report(ann, table, frame)
