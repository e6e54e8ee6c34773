"""Turn a dataset's annotations into UTS labels through an SSSOM mapping.

Every clip gets ``labels`` (the target concepts its own labels map to) and ``inferred`` (their
ancestors, added by closure over the target hierarchy, minus the annotated ones), next to its
``source_labels`` and, where the source has them, ``audio_path``, ``start``, ``duration`` and
``caption``. Everything is a polars lazy query run on the streaming engine: labels and their closure
are computed once per distinct label combination and gathered back, so a million clips never
become Python objects.

Which mapping rows are used: exactMatch, closeMatch and broadMatch (a clip tagged "acid jazz"
is a Jazz clip). narrowMatch is left out by default (a clip tagged "drum" is not necessarily a
snare-drum clip), so is relatedMatch (the matcher's weak guesses, meant for review), and so are
rejected rows (``predicate_modifier: Not``).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from uts.cuts import read_cuts
from uts.inputs import Skipped
from uts.manifest import OPTIONAL_COLUMNS, ManifestError, check_ids, is_lhotse
from uts.ontology.files import (OPENS_LIKE_JSON, atomic_write_bytes, atomic_write_with, first_bad_csv_line,
                               first_bad_json_line, is_gzip, is_parquet,
                               open_text, read_bytes, table_format, table_stem)
from uts.ontology.graph import inferred
from uts.ontology.resolve import Curated
from uts.pool import Sources, describe_source, sources_path, write_sources

from .labelsets import LabelSet, from_ontology
from .sssom import APPLY_PREDICATES, MappingSet, read_sssom

ANNOTATION_FORMATS = ("audioset", "mtg-jamendo", "lhotse", "table")
_AUDIO_ALIASES = ("audio_path", "audio_filepath", "audio", "path", "file", "filename", "wav")
_LINE = "__line"


class ApplyError(ValueError):
    """The annotations or the mapping cannot be applied."""


@dataclass
class Annotations:
    """A dataset's clips as a lazy frame with ``id``, any of :data:`OPTIONAL_COLUMNS` and the
    labels, either as ``source_labels`` (list of str) or, where the file holds them as one
    string per clip, as ``_raw`` plus ``split`` (an expression turning that string into the list;
    it then only runs once per distinct string). ``key`` says how labels are looked up in the
    mapping: by subject id (``"id"``, labels written as CURIEs) or by label text (``"text"``)."""

    frame: pl.LazyFrame
    key: str
    format: str
    split: object = None  # Callable[[pl.Expr], pl.Expr] for frames with a ``_raw`` column
    path: Path | None = None  # the file read (named in errors found while streaming it)
    rejected: pl.LazyFrame | None = None  # lines that are no clip (``_lineno``, ``__line``): counted, never silent
    json_labels: str | None = None  # a JSON Lines file's tags column (checked for nested lists polars reads as text)


@dataclass
class ApplyReport:
    clips: int = 0
    clips_without_labels: int = 0
    label_occurrences: int = 0
    unmapped_occurrences: int = 0
    unmapped_labels: dict[str, int] = field(default_factory=dict)  # label -> occurrences
    source: dict | None = None  # id, mapped and annotated concept counts (apply_file's sidecar)
    skipped: Skipped = field(default_factory=lambda: Skipped("lines"))  # lines of the file that are no clip

    def summary(self, out: str | Path, top: int = 10) -> str:
        """What ``uts map apply`` prints: counts, then the ``top`` most frequent unmapped labels."""
        lines = [f"{self.clips} clips written to {out}; {self.clips_without_labels} left without labels",
                 f"{self.label_occurrences} label occurrences, {self.unmapped_occurrences} unmapped "
                 f"({len(self.unmapped_labels)} distinct labels)"]
        lines += [f"  unmapped {label}: {n}" for label, n in list(self.unmapped_labels.items())[:top]]
        lines.append(f"input: {self.skipped.summary()}")
        if self.source:
            lines.append(f"source {self.source['id']}: annotates {self.source['annotated']} concepts "
                         f"({self.source['mapped']} mapped, the rest whole branches) -> {sources_path(out)}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"clips": self.clips, "clips_without_labels": self.clips_without_labels,
                "label_occurrences": self.label_occurrences,
                "unmapped_occurrences": self.unmapped_occurrences,
                "unmapped_labels": self.unmapped_labels, "source": self.source,
                "skipped_input": self.skipped.to_dict()}


# -- reading annotations ---------------------------------------------------------------------
def _lines(path: Path) -> pl.LazyFrame:
    """A text file as one string column, one row per line (no CSV quoting rules applied)."""
    return pl.scan_csv(path, has_header=False, separator="\x1f", quote_char=None,
                       new_columns=[_LINE], schema_overrides={_LINE: pl.Utf8})


def _numbered_lines(path: Path) -> pl.LazyFrame:
    """:func:`_lines` with ``_lineno`` (1-based; blank lines stay, as nulls, so numbers are true)."""
    return _lines(path).with_row_index("_lineno", offset=1)


def _rejected(parsed: pl.LazyFrame, key: str) -> pl.LazyFrame:
    """The non-blank lines of ``parsed`` whose pattern did not match (``key`` is null)."""
    return (parsed.filter(pl.col(key).is_null() & (pl.col(_LINE).str.strip_chars().fill_null("") != ""))
            .select("_lineno", _LINE))


def count_rejected(ann: Annotations) -> Skipped:
    """Lines of the annotation file that are no clip, counted with a few examples (FILE:LINE)."""
    skipped = Skipped("lines")
    if ann.rejected is None:
        return skipped
    try:
        n = ann.rejected.select(pl.len()).collect(engine="streaming").item()
        examples = ann.rejected.head(5).collect() if n else pl.DataFrame(schema={"_lineno": pl.UInt32, _LINE: pl.Utf8})
    except pl.exceptions.PolarsError as exc:
        raise ApplyError(_unreadable_table(ann.path, exc)) from None
    for lineno, line in examples.iter_rows():
        skipped.add("not a clip line", f"{ann.path}:{lineno} {line[:40]!r}")
    skipped.add("not a clip line", n=n - examples.height)
    return skipped


def read_audioset_segments(path: str | Path) -> Annotations:
    """AudioSet segment CSVs: ``YTID, start_seconds, end_seconds, "mid,mid,..."``, either as plain
    CSV with a ``YTID,...`` header or as officially released (``#`` comment lines, a space after
    each comma). ``id`` is ``YTID_start`` with the start as written."""
    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        first = fh.readline()
    if first.startswith("YTID,"):  # plain CSV: polars' native (parallel) parser
        fields = ["ytid", "start_s", "end_s", "labels"]
        parsed = (pl.scan_csv(path, schema={c: pl.Utf8 for c in fields}, skip_rows=1, has_header=False)
                  .with_row_index("_lineno", offset=2)  # blank lines stay as all-null rows: numbers are true
                  .with_columns(pl.when(pl.col("ytid").is_not_null() & pl.col("start_s").cast(pl.Float64, strict=False)
                                        .is_not_null() & pl.col("end_s").cast(pl.Float64, strict=False).is_not_null())
                                .then(pl.col("ytid")).alias("_ok"),
                                pl.concat_str(fields, separator=",", ignore_nulls=True).alias(_LINE)))
        raw = parsed.filter(pl.col("_ok").is_not_null())
        rejected = _rejected(parsed, "_ok")
    else:
        parsed = (
            _numbered_lines(path)
            .filter(~pl.col(_LINE).str.starts_with("#") & ~pl.col(_LINE).str.starts_with("YTID"))
            .with_columns(pl.col(_LINE).str.strip_chars_end("\r")
                          .str.extract_groups(r'^([^,]+),\s*([0-9.]+),\s*([0-9.]+),\s*"?([^"]*)"?\s*$').alias("m"))
            .unnest("m")
            .rename({"1": "ytid", "2": "start_s", "3": "end_s", "4": "labels"})
        )
        raw = parsed.filter(pl.col("ytid").is_not_null())
        rejected = _rejected(parsed, "ytid")
    rows = raw.select(
        id=pl.concat_str([pl.col("ytid"), pl.col("start_s")], separator="_"),
        start=pl.col("start_s").cast(pl.Float64),
        duration=(pl.col("end_s").cast(pl.Float64) - pl.col("start_s").cast(pl.Float64)).round(3),
        _raw=pl.col("labels"),
    )
    return Annotations(rows, "id", "audioset", split=_split_audioset, rejected=rejected)


def _split_audioset(raw: pl.Expr) -> pl.Expr:
    return raw.str.split(",").list.eval(pl.concat_str([pl.lit("AudioSet:"), pl.element().str.strip_chars()]))


def _split_mtg(raw: pl.Expr) -> pl.Expr:
    # MTG-Jamendo tags are [a-z0-9/-] only, which local_id() leaves as they are: "genre---rock"
    return raw.str.split("\t").list.eval(pl.element().filter(pl.element() != "")).list.eval(
        pl.concat_str([pl.lit("MTGJamendo:"), pl.element()]))


def read_mtg_jamendo_annotations(path: str | Path) -> Annotations:
    """MTG-Jamendo ``TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS...`` TSVs."""
    path = Path(path)
    parsed = (
        _numbered_lines(path)
        .filter(~pl.col(_LINE).str.starts_with("TRACK_ID"))
        .with_columns(pl.col(_LINE).str.strip_chars_end("\r")
                      .str.extract_groups(r"^([^\t]*)\t[^\t]*\t[^\t]*\t([^\t]*)\t([^\t]*)\t?(.*)$").alias("m"))
        .unnest("m")
    )
    parts = parsed.filter(pl.col("1").is_not_null())
    rows = parts.select(
        id=pl.col("1"),
        audio_path=pl.col("2"),
        duration=pl.col("3").cast(pl.Float64, strict=False),
        _raw=pl.col("4"),
    )
    return Annotations(rows, "id", "mtg-jamendo", split=_split_mtg, rejected=_rejected(parsed, "1"))


def read_lhotse_annotations(path: str | Path) -> Annotations:
    """Lhotse cut manifests (tags in ``supervisions[0].custom.audio_tag``), via :mod:`uts.cuts`."""
    frame = read_cuts(path).rename({"audio_tag": "source_labels"})
    return Annotations(frame.lazy(), "text", "lhotse")


def read_table_annotations(path: str | Path, tags_column: str = "tags", id_column: str = "id",
                           separator: str = ",") -> Annotations:
    """Generic CSV/TSV/Parquet/JSONL with a tags column (a list, or a ``separator``-joined string)."""
    path = Path(path)
    fmt = table_format(path)
    if fmt == "parquet":
        frame = pl.scan_parquet(path)
    elif fmt in ("jsonl", "json"):
        # a .gz is gunzipped by read_bytes, whose error names a truncated or corrupt file
        frame = pl.read_ndjson(io.BytesIO(read_bytes(path))).lazy() if is_gzip(path) else pl.scan_ndjson(path)
    else:
        frame = pl.scan_csv(path, separator="\t" if fmt == "tsv" else ",", infer_schema_length=10000)
    try:
        schema = frame.collect_schema()
    except pl.exceptions.PolarsError as exc:  # polars names neither file nor line: find the line
        raise ApplyError(_unreadable_table(path, exc)) from None
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
    if fmt in ("jsonl", "json", "parquet") and not (
            isinstance(schema[tags_column], pl.List) or schema[tags_column] == pl.Utf8):  # typed: a number is no label
        raise ApplyError(f"{path}: column {tags_column!r} holds {schema[tags_column]}; a list of labels or "
                         f"a {separator!r}-joined string per clip is expected")
    if not isinstance(schema[tags_column], pl.List):
        tags = tags.cast(pl.Utf8).str.split(separator).list.eval(pl.element().str.strip_chars()).list.eval(
            pl.element().filter(pl.element() != ""))
    cols.append(tags.alias("source_labels"))
    return Annotations(frame.select(cols), "text", "table",
                       json_labels=tags_column if fmt in ("jsonl", "json") else None)


def _unreadable_table(path: Path | None, exc: Exception) -> str:
    """One line for a table polars refused: the first line that is not a JSON object or whose
    value has the wrong type (JSON Lines), an empty file, or polars' own first line."""
    if path is None:
        return str(exc).splitlines()[0]
    if path.stat().st_size == 0:
        return f"{path}: empty file; a table of clips with a tags column is expected"
    fmt = table_format(path)
    if fmt in ("jsonl", "json"):
        where = first_bad_json_line(path)
    else:
        where = first_bad_csv_line(path, "\t" if fmt == "tsv" else ",") if fmt in ("csv", "tsv") else None
    return where or f"{path}: cannot read as a table: {str(exc).splitlines()[0]}"


def detect_annotation_format(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise ApplyError(f"no annotation file at {path}")
    if is_parquet(path):
        return "table"
    with open_text(path, errors="replace") as fh:
        head = fh.read(4096)
    if head.startswith("TRACK_ID\t"):
        return "mtg-jamendo"
    if head.startswith("YTID,") or "# YTID" in head or "num_ytids" in head:
        return "audioset"
    if head.lstrip().startswith("{"):
        # JSON Lines: the manifest's own rule (first record's keys), not a 4 KB text sniff that a
        # long supervision text pushes past
        try:
            return "lhotse" if is_lhotse(path) else "table"
        except ManifestError:
            return "table"  # the table reader names the bad line
    return "table"


def read_annotations(path: str | Path, format: str | None = None, tags_column: str = "tags",
                     id_column: str = "id", separator: str = ",") -> Annotations:
    fmt = format or detect_annotation_format(path)
    if not Path(path).is_file():
        raise ApplyError(f"no annotation file at {path}")
    if fmt == "audioset":
        ann = read_audioset_segments(path)
    elif fmt == "mtg-jamendo":
        ann = read_mtg_jamendo_annotations(path)
    elif fmt == "lhotse":
        ann = read_lhotse_annotations(path)
    elif fmt == "table":
        ann = read_table_annotations(path, tags_column, id_column, separator)
    else:
        raise ApplyError(f"unknown annotation format {fmt!r}; choose one of {', '.join(ANNOTATION_FORMATS)}")
    ann.path = Path(path)
    return ann


# -- mapping tables --------------------------------------------------------------------------
def mapping_table(mapping: MappingSet, predicates=APPLY_PREDICATES) -> dict[str, str]:
    """subject_id -> object_id for the rows to apply (one decided mapping per subject)."""
    return mapping.applied(predicates)


def text_table(mapping: MappingSet, labels: list[str], predicates=APPLY_PREDICATES) -> dict[str, str]:
    """Label text as found in a dataset -> object_id, through the one resolver's curated tier
    (:class:`uts.ontology.resolve.Curated`): subject label or id exactly (case folded), then by
    normalised form (``Hi-Hats`` finds a mapping made for ``hi_hat``). A subject decided as
    NoTermFound stays unmapped even when another subject normalises like it. Labels the mapping
    does not know stay unmapped (and are reported): apply never guesses past a reviewed mapping."""
    curated = Curated(mapping.curated_labels(predicates))
    out = {}
    for text in labels:
        ids = curated.lookup(text)
        if ids:
            out[text] = ids[0]
    return out


def closure(target: LabelSet, ids=None) -> dict[str, list[str]]:
    """id -> sorted ancestor ids in the target hierarchy (:func:`uts.ontology.graph.inferred`,
    the one closure rule)."""
    ids = target.labels if ids is None else ids
    return {i: inferred(target.graph, [i]) for i in ids if i in target}


# -- applying --------------------------------------------------------------------------------
def label_combinations(annotations: Annotations) -> pl.DataFrame:
    """One streaming pass: every distinct label combination (``_key``), its clip count ``n``
    and its ``source_labels`` list."""
    empty = pl.lit([], dtype=pl.List(pl.Utf8))
    if annotations.split is not None:
        combos = (annotations.frame.group_by(pl.col("_raw").fill_null("").alias("_key"))
                  .agg(n=pl.len()).collect(engine="streaming"))
        return combos.with_columns(source_labels=pl.when(pl.col("_key") == "").then(empty)
                                   .otherwise(annotations.split(pl.col("_key"))))
    return (annotations.frame
            .select(pl.col("source_labels").fill_null(empty))
            .group_by(pl.col("source_labels").list.join("\x1f").alias("_key"))
            .agg(n=pl.len(), source_labels=pl.col("source_labels").first(),
                 # ["dog", null] joins like ["dog"]: remember it, the reader names its line
                 _null=pl.col("source_labels").list.eval(pl.element().is_null()).list.any().any())
            .collect(engine="streaming"))


def resolve_combinations(combos: pl.DataFrame, table: dict[str, str],
                         ancestors: dict[str, list[str]]) -> pl.DataFrame:
    """Add ``labels`` and ``inferred`` to each combination (few thousand rows, plain Python)."""
    labels_out, inferred_out = [], []
    for src in combos["source_labels"].to_list():
        labels = sorted({table[x] for x in src if x in table})
        labels_out.append(labels)
        inferred_out.append(sorted({a for x in labels for a in ancestors.get(x, ())}.difference(labels)))
    return combos.with_columns(pl.Series("labels", labels_out, dtype=pl.List(pl.Utf8)),
                               pl.Series("inferred", inferred_out, dtype=pl.List(pl.Utf8)))


def _with_combination(annotations: Annotations, combos: pl.DataFrame) -> pl.LazyFrame:
    """The clips with ``_i``, the row of their label combination in ``combos`` (a hash lookup
    on the combination key; cheaper than a join that has to keep the clips' order)."""
    if annotations.split is not None:
        key = pl.col("_raw").fill_null("")
    else:
        key = pl.col("source_labels").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))).list.join("\x1f")
    positions = pl.arange(0, len(combos), dtype=pl.UInt32, eager=True)
    return annotations.frame.with_columns(
        _i=key.replace_strict(combos["_key"], positions, return_dtype=pl.UInt32))


def _optional_columns(annotations: Annotations) -> list[str]:
    names = annotations.frame.collect_schema().names()
    return [c for c in OPTIONAL_COLUMNS if c in names]


def apply_mapping(annotations: Annotations, table: dict[str, str], ancestors: dict[str, list[str]],
                  combos: pl.DataFrame | None = None) -> pl.LazyFrame:
    """The lazy output frame: ``id, labels, inferred, [audio_path, start, duration, caption],
    source_labels``; lists sorted and free of duplicates.

    Datasets repeat the same label combinations over and over (AudioSet's 20k eval clips use
    about 8k distinct ones), so labels and closure are worked out once per combination
    (:func:`resolve_combinations`) and gathered back onto the clips by position."""
    if combos is None:
        combos = resolve_combinations(label_combinations(annotations), table, ancestors)
    per_combination = [pl.lit(combos[c]).gather(pl.col("_i")).alias(c)
                       for c in ("labels", "inferred", "source_labels")]
    return (_with_combination(annotations, combos)
            .select("id", *per_combination[:2], *_optional_columns(annotations), per_combination[2]))


def jsonl_lines(annotations: Annotations, combos: pl.DataFrame) -> pl.LazyFrame:
    """The same records as :func:`apply_mapping`, as ready JSON lines (one ``line`` column).

    Serialising list columns row by row is most of the cost of writing JSON Lines, and the lists
    only vary with the label combination: each combination's part of the line is written once
    here, and each clip only adds its own id and optional fields (encoded by polars)."""
    def dumps(value) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    middle = pl.Series([f'"labels":{dumps(a)},"inferred":{dumps(b)}' for a, b in
                        zip(combos["labels"].to_list(), combos["inferred"].to_list())], dtype=pl.Utf8)
    end = pl.Series([f'"source_labels":{dumps(s)}}}' for s in combos["source_labels"].to_list()],
                    dtype=pl.Utf8)
    parts = [pl.struct("id").struct.json_encode().str.head(-1), pl.lit(","),  # '{"id":"..."'
             pl.lit(middle).gather(pl.col("_i")), pl.lit(",")]
    optional = _optional_columns(annotations)
    if optional:  # '"start":0.0,"duration":10.0' (the braces of the encoded struct cut off)
        parts += [pl.struct(optional).struct.json_encode().str.slice(1).str.head(-1), pl.lit(",")]
    parts.append(pl.lit(end).gather(pl.col("_i")))
    return _with_combination(annotations, combos).select(line=pl.concat_str(parts))


def write_applied(annotations: Annotations, combos: pl.DataFrame, out: str | Path) -> Path:
    """Write the mapped clips to ``out`` (``.parquet``, ``.jsonl``/``.ndjson`` or ``.jsonl.gz``),
    streaming; JSON Lines go through :func:`jsonl_lines`."""
    try:
        if table_format(out) == "jsonl":
            return write_frame(jsonl_lines(annotations, combos), out, lines=True)
        return write_frame(apply_mapping(annotations, {}, {}, combos), out)
    except pl.exceptions.PolarsError as exc:  # a bad value in a column read only now (duration, ...)
        raise ApplyError(_unreadable_table(annotations.path, exc)) from None


def write_frame(frame: pl.LazyFrame, out: str | Path, lines: bool = False) -> Path:
    """Stream to ``.parquet``/``.pq`` or ``.jsonl`` (``.jsonl.gz`` is collected, then compressed),
    through a hidden temporary file so a failure leaves nothing behind. ``lines=True``: the
    frame is one column of finished JSON lines, written as they are."""
    out = Path(out)
    fmt = table_format(out)
    if fmt == "parquet" and not lines:
        return atomic_write_with(out, frame.sink_parquet)
    if fmt != "jsonl":
        raise ApplyError(f"output must end in .parquet, .jsonl or .jsonl.gz, not {out.name}")
    if is_gzip(out):
        buf = io.BytesIO()
        if lines:
            frame.collect(engine="streaming").write_csv(buf, include_header=False, quote_style="never")
        else:
            frame.collect(engine="streaming").write_ndjson(buf)
        return atomic_write_bytes(out, buf.getvalue())
    if lines:  # no header, no quoting: each value already is a JSON object
        return atomic_write_with(out, lambda tmp: frame.sink_csv(tmp, include_header=False, quote_style="never"))
    return atomic_write_with(out, frame.sink_ndjson)


def report(combos: pl.DataFrame, table: dict[str, str]) -> ApplyReport:
    """Counts of clips, clips left without any label, and unmapped label occurrences, from the
    resolved combinations (no extra pass over the clips)."""
    occurrences = (combos.select(pl.col("source_labels"), pl.col("n"))
                   .explode("source_labels").drop_nulls("source_labels")
                   .group_by("source_labels").agg(pl.col("n").sum()))
    unmapped = (occurrences.filter(~pl.col("source_labels").is_in(list(table)))
                .sort(["n", "source_labels"], descending=[True, False]))
    return ApplyReport(
        clips=int(combos["n"].sum()),
        clips_without_labels=int(combos.filter(pl.col("labels").list.len() == 0)["n"].sum()),
        label_occurrences=int(occurrences["n"].sum()),
        unmapped_occurrences=int(unmapped["n"].sum()),
        unmapped_labels=dict(zip(unmapped["source_labels"].to_list(), unmapped["n"].to_list())),
    )


def _mapped_combinations(ann: Annotations, mapping: MappingSet, target: LabelSet,
                         predicates=APPLY_PREDICATES) -> tuple[pl.DataFrame, dict[str, str]]:
    try:
        combos = label_combinations(ann)
        ids = ann.frame.select("id").collect(engine="streaming")
    except pl.exceptions.PolarsError as exc:  # a bad line deep in the file, met while streaming
        raise ApplyError(_unreadable_table(ann.path, exc)) from None
    check_ids(ids, ann.path)  # a repeat written on would be refused by train, naming the output
    if ann.key == "text":
        values = combos["source_labels"].explode().drop_nulls().unique()
        holds_null = "_null" in combos.columns and combos["_null"].any()
        if ann.json_labels and (holds_null or values.str.contains(OPENS_LIKE_JSON).any()):
            where = first_bad_json_line(ann.path, lists_of_strings=(ann.json_labels,))
            if where:
                raise ApplyError(where)
        table = text_table(mapping, values.to_list(), predicates)
    else:
        table = mapping_table(mapping, predicates)
    missing = sorted({o for o in table.values() if o not in target})
    if missing:
        subject = next(label for label, o in table.items() if o == missing[0])
        raise ApplyError(f"{mapping.source or 'mapping'}: {len(missing)} mapped target id(s) are not in the target "
                         f"{target.name} (e.g. {subject!r} -> {missing[0]}); pass the target the mapping was made "
                         "for (--target)")
    return resolve_combinations(combos, table, closure(target, set(table.values()))), table


def apply_file(annotations_path: str | Path, mapping: MappingSet, target: LabelSet, out: str | Path,
               format: str | None = None, predicates=APPLY_PREDICATES, tags_column: str = "tags",
               id_column: str = "id", separator: str = ",", source_id: str | None = None,
               strict: bool = False) -> ApplyReport:
    """Read annotations, map them, write ``out`` and return the report.

    Beside ``out`` goes its sidecar (:func:`uts.pool.sources_path`): the source's annotated
    label space, i.e. the target concepts its clips' labels map to, plus the ancestors whose
    whole branch those cover (:func:`uts.ontology.annotated.annotated_concepts`), under
    ``source_id`` (default: the annotation file's name without extension).

    Lines that are no clip are skipped and counted (``rep.skipped``); ``strict`` refuses them,
    and labels the mapping does not map, before anything is written."""
    ann = read_annotations(annotations_path, format, tags_column, id_column, separator)
    combos, table = _mapped_combinations(ann, mapping, target, predicates)
    rep = report(combos, table)
    rep.skipped = count_rejected(ann)
    rep.skipped.of = rep.clips + rep.skipped.total
    if rep.clips == 0:  # an empty manifest would only fail later, far from its cause
        raise ApplyError(f"{annotations_path}: no clips to map ("
                         + (f"{rep.skipped.summary()})" if rep.skipped.total else "no rows after the header)"))
    rep.skipped.check(strict, annotations_path)
    if strict:
        unmapped = Skipped("label occurrences", of=rep.label_occurrences)
        for label, n in rep.unmapped_labels.items():
            unmapped.add("not mapped", label, n)
        unmapped.check(strict, annotations_path)
    mapped = combos["labels"].explode().drop_nulls().unique().to_list()
    source = describe_source(source_id or source_name(annotations_path), mapped, target.graph, rep.clips,
                             str(annotations_path))
    write_applied(ann, combos, out)
    try:
        write_sources(out, Sources([source]))
    except OSError:
        Path(out).unlink(missing_ok=True)  # a manifest without its label space would pool wrongly
        raise
    rep.source = {"id": source.id, "mapped": len(source.mapped), "annotated": len(source.annotated)}
    return rep


def source_name(path: str | Path) -> str:
    """A source id from an annotation file's name: ``eval_segments.csv`` -> ``eval_segments``."""
    return table_stem(path) or "source"


def map_annotations(annotations_path: str | Path, mapping: MappingSet | str | Path, onto,
                    format: str | None = None, predicates=APPLY_PREDICATES) -> pl.DataFrame:
    """What :func:`apply_file` writes, in memory, onto the UTS ontology ``onto``, plus an
    ``unmapped`` column (the clip's source labels the mapping does not map). Training uses this
    for Lhotse cuts, so a cut gets the same labels as ``uts map apply`` would give it."""
    if not isinstance(mapping, MappingSet):
        mapping = read_sssom(mapping)
    ann = read_annotations(annotations_path, format)
    combos, table = _mapped_combinations(ann, mapping, from_ontology(onto), predicates)
    combos = combos.with_columns(unmapped=pl.col("source_labels").list.eval(
        pl.element().filter(~pl.element().is_in(list(table)))))
    labels, inferred, source, unmapped = (pl.lit(combos[c]).gather(pl.col("_i")).alias(c)
                                          for c in ("labels", "inferred", "source_labels", "unmapped"))
    return (_with_combination(ann, combos)
            .select("id", labels, inferred, *_optional_columns(ann), source, unmapped).collect())
