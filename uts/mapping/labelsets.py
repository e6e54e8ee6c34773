"""Label sets: the vocabularies that get mapped (sources) and mapped onto (targets).

A :class:`LabelSet` is a flat dict of :class:`Label` (CURIE id, label as written, synonyms,
description, parent ids) plus the CURIE prefix(es) its ids use, so SSSOM files can be written
for it. Readers exist for every format a dataset's labels come in; :func:`read_labelset`
guesses the format from the file and is what the CLI calls.

Ids: where the source has ids they are kept (AudioSet ``/m/09x0r`` becomes ``AudioSet:/m/09x0r``,
UTS ids stay ``UTS:0000123``, OWL IRIs are compressed with the file's prefixes); where it has none
(plain lists, tag columns) the id is the label percent-encoded (:func:`local_id`: ``happy
hardcore`` -> ``happy%20hardcore``) under a prefix named after the file - the same scheme as the
shipped alignments in ``mapping/``, so re-running the matcher on them finds their reviewed rows.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import networkx as nx
import rdflib
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from uts.ontology import load
from uts.ontology.files import open_text
from uts.ontology.graph import ancestor_sets
from uts.ontology.graph import closure as _closure
from uts.ontology.io import default_ontology_path
from uts.ontology.model import Ontology, UnknownConceptError

from .sssom import DEFAULT_CURIE_MAP, read_sssom

LOCAL_BASE = "https://w3id.org/uts/labelset/"
FORMATS = ("text", "table", "audioset", "id2label", "owl", "sssom", "mtg-jamendo", "lhotse")


class LabelSetError(ValueError):
    """A label set file cannot be read as the requested format."""


@dataclass
class Label:
    id: str
    label: str
    synonyms: list[str] = field(default_factory=list)
    description: str | None = None
    parents: list[str] = field(default_factory=list)
    mappable: bool = True  # False for context-only entries (e.g. MTG-Jamendo categories)
    xrefs: list[str] = field(default_factory=list)  # ids of the same thing elsewhere ("AudioSet:/m/09x0r")

    def texts(self) -> list[str]:
        return [self.label, *self.synonyms]


@dataclass
class LabelSet:
    name: str
    labels: dict[str, Label]
    curie_map: dict[str, str] = field(default_factory=dict)
    source: str | None = None  # path or IRI it was read from
    kind: str = "text"
    # what the labels are, in the user's words ("acoustic scenes"): a "# context: ..." line of a
    # text file, or --context; the matcher uses it as set-level evidence (uts.mapping.context)
    context: str | None = None
    _graph: nx.DiGraph | None = field(default=None, init=False, repr=False, compare=False)
    _ancestors: dict | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self) -> Iterator[Label]:
        return iter(self.labels.values())

    def __contains__(self, label_id: str) -> bool:
        return label_id in self.labels

    def get(self, label_id: str) -> Label:
        try:
            return self.labels[label_id]
        except KeyError:
            raise UnknownConceptError(f"{self.name}: no label with id {label_id!r}") from None

    def mappable(self) -> list[Label]:
        return [lab for lab in self.labels.values() if lab.mappable]

    def parents(self, label_id: str) -> list[str]:
        return [p for p in self.get(label_id).parents if p in self.labels]

    @property
    def graph(self) -> nx.DiGraph:
        """The label hierarchy, edges parent -> child (as ``Ontology.graph``)."""
        if self._graph is None:
            g = nx.DiGraph()
            g.add_nodes_from(self.labels)
            g.add_edges_from((p, lab.id) for lab in self.labels.values() for p in lab.parents if p in self.labels)
            self._graph = g
        return self._graph

    def children(self, label_id: str) -> list[str]:
        return list(self.graph.successors(label_id)) if label_id in self.labels else []

    def ancestors(self, label_id: str) -> set[str]:
        """Strict ancestors, by the shared closure rule: every label's set is computed once, in
        one topological pass (:func:`uts.ontology.graph.ancestor_sets`); a label set with a
        cycle falls back to a walk per call (:func:`uts.ontology.graph.closure`)."""
        self.get(label_id)
        if self._ancestors is None:
            try:
                self._ancestors = ancestor_sets(self.graph)
            except nx.NetworkXUnfeasible:
                self._ancestors = {}
        known = self._ancestors.get(label_id)
        return set(known) if known is not None else _closure(self.graph, [label_id]) - {label_id}

    def by_label(self) -> dict[str, str]:
        """Label and synonym text (as written) -> id, first wins."""
        out: dict[str, str] = {}
        for lab in self.labels.values():
            for text in lab.texts():
                out.setdefault(text, lab.id)
        return out


# -- helpers ---------------------------------------------------------------------------------
def local_id(text: str) -> str:
    """The local part of a CURIE made from a label or tag: percent-encoded, keeping ``/-_.~``
    (``genre---rock`` and ``/m/09x0r`` stay as they are, ``happy hardcore`` -> ``happy%20hardcore``)."""
    return quote(text.strip(), safe="/-_.~") or "label"


def prefix_for(name: str) -> str:
    """A CURIE prefix from a file name: letters, digits, underscore; starts with a letter."""
    p = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "labels"
    return p if p[0].isalpha() else f"x{p}"


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl", ".json", ".tsv", ".csv", ".txt", ".sssom", ".ttl", ".owl"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name or path.stem


def from_texts(texts: Iterable[str], name: str, prefix: str | None = None, kind: str = "text",
               source: str | None = None) -> LabelSet:
    """A flat label set from label strings (duplicates dropped, order kept)."""
    prefix = prefix or prefix_for(name)
    labels: dict[str, Label] = {}
    used: set[str] = set()
    seen: set[str] = set()
    for text in texts:
        text = text.strip()
        if not text or text in seen:
            continue
        seen.add(text)
        cid = f"{prefix}:{local_id(text)}"  # percent-encoding is one-to-one: distinct labels, distinct ids
        if cid in used:
            continue
        used.add(cid)
        labels[cid] = Label(cid, text)
    base = DEFAULT_CURIE_MAP.get(prefix, f"{LOCAL_BASE}{prefix}/")
    return LabelSet(name, labels, {prefix: base}, source, kind)


def from_ontology(onto: Ontology, name: str = "UTS", source: str | None = None,
                  include_deprecated: bool = False) -> LabelSet:
    """A UTS ontology as a label set (active concepts only, unless asked)."""
    labels = {
        c.id: Label(c.id, c.label, list(c.synonyms), c.definition, list(c.parents), xrefs=list(c.xrefs))
        for c in onto.concepts.values() if include_deprecated or not c.deprecated
    }
    return LabelSet(name, labels, {"UTS": DEFAULT_CURIE_MAP["UTS"]}, source, "owl")


def _check(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise LabelSetError(f"no label set file at {path}")
    return path


# -- readers ---------------------------------------------------------------------------------
_CONTEXT_LINE = re.compile(r"^\s*#\s*(?:context|description)\s*:\s*(.+?)\s*$", re.I)


def read_text(path: str | Path, name: str | None = None) -> LabelSet:
    """One label per line; blank lines and ``#`` comments skipped; labels kept as written.
    A comment ``# context: acoustic scenes`` (or ``# description: ...``) says what the labels
    are; it becomes the set's :attr:`LabelSet.context`."""
    path = _check(path)
    with open_text(path) as fh:
        raw = [ln.rstrip("\n") for ln in fh if ln.strip()]
    lines = [ln for ln in raw if not ln.lstrip().startswith("#")]
    if not lines:
        raise LabelSetError(f"{path}: no labels found")
    out = from_texts(lines, name or _stem(path), source=str(path))
    context = [m.group(1) for m in map(_CONTEXT_LINE.match, raw) if m]
    out.context = "; ".join(context) or None
    return out


_LABEL_COLUMNS = ("display_name", "label", "name", "tag", "class", "category", "class_name")
_ID_COLUMNS = ("mid", "id", "class_id", "label_id")
_DESCRIPTION_COLUMNS = ("description", "definition", "meaning")


def read_table(path: str | Path, column: str | None = None, id_column: str | None = None,
               description_column: str | None = None, name: str | None = None,
               separator: str | None = None) -> LabelSet:
    """A CSV/TSV with a header; ``column`` holds the labels (default: the first of
    display_name/label/name/tag/class/category), ``id_column`` optional ids (``mid``/``id``).
    A cell with several labels separated by ``;`` or ``|`` counts each. A ``description``
    (or ``definition``/``meaning``) column, when present, is read as each label's description:
    what an abbreviation such as IRMAS's ``gac`` stands for ("acoustic guitar")."""
    path = _check(path)
    sep = separator or ("\t" if ".tsv" in path.name else ",")
    with open_text(path) as fh:
        reader = csv.DictReader(fh, delimiter=sep)
        header = reader.fieldnames or []
        rows = list(reader)
    if not header:
        raise LabelSetError(f"{path}: empty table")
    lower = {h.lower(): h for h in header}
    if column is None:
        column = next((lower[c] for c in _LABEL_COLUMNS if c in lower), None)
        if column is None:
            if len(header) == 1:
                column = header[0]
            else:
                raise LabelSetError(f"{path}: say which column holds the labels (--column); columns: {', '.join(header)}")
    elif column not in header:
        raise LabelSetError(f"{path}: no column {column!r}; columns: {', '.join(header)}")
    if id_column is None:
        id_column = next((lower[c] for c in _ID_COLUMNS if c in lower and lower[c] != column), None)
    elif id_column not in header:
        raise LabelSetError(f"{path}: no id column {id_column!r}; columns: {', '.join(header)}")
    if description_column is None:
        description_column = next((lower[c] for c in _DESCRIPTION_COLUMNS if c in lower and lower[c] != column), None)
    stem = name or _stem(path)
    if id_column is None:
        texts = [t for row in rows for t in re.split(r"[;|]", row.get(column) or "")]
        out = from_texts(texts, stem, kind="table", source=str(path))
        if description_column:
            by = out.by_label()
            for row in rows:
                if row.get(column) in by and row.get(description_column):
                    out.labels[by[row[column]]].description = row[description_column]
        return out
    labels: dict[str, Label] = {}
    curie_map: dict[str, str] = {}
    for row in rows:
        raw_id, text = (row.get(id_column) or "").strip(), (row.get(column) or "").strip()
        if not raw_id or not text:
            continue
        cid, prefix = _curie_for_id(raw_id, prefix_for(stem))
        curie_map.setdefault(prefix, DEFAULT_CURIE_MAP.get(prefix, f"{LOCAL_BASE}{prefix}/"))
        desc = (row.get(description_column) or None) if description_column else None
        labels.setdefault(cid, Label(cid, text, _comma_synonyms(text), desc))
    if not labels:
        raise LabelSetError(f"{path}: no labels in column {column!r}")
    return LabelSet(stem, labels, curie_map, str(path), "table")


def _curie_for_id(raw: str, default_prefix: str) -> tuple[str, str]:
    if re.match(r"^/[mgt]/", raw):  # Freebase / Knowledge Graph mids: AudioSet's class ids
        return f"AudioSet:{raw}", "AudioSet"
    if re.match(r"^[A-Za-z][A-Za-z0-9_.-]*:[^/]", raw) and not raw.startswith(("http:", "https:")):
        return raw, raw.split(":", 1)[0]
    return f"{default_prefix}:{local_id(raw)}", default_prefix


def _comma_synonyms(name: str) -> list[str]:
    """AudioSet style names list variants after commas: "Male speech, man speaking"."""
    parts = [p.strip() for p in name.split(",")]
    return [p for p in parts if p] if len(parts) > 1 else []


def read_audioset_ontology(path: str | Path, name: str = "AudioSet",
                           include_blacklisted: bool = True) -> LabelSet:
    """AudioSet's ``ontology.json``: ids, names (comma variants as synonyms), descriptions and
    the hierarchy (``child_ids`` turned into parent links)."""
    path = _check(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = {e["id"]: e for e in data}
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise LabelSetError(f"{path}: not an AudioSet ontology.json ({exc})") from exc
    parents: dict[str, list[str]] = {}
    for e in data:
        for child in e.get("child_ids") or []:
            parents.setdefault(child, []).append(f"AudioSet:{e['id']}")
    labels = {}
    for mid, e in entries.items():
        if not include_blacklisted and "blacklist" in (e.get("restrictions") or []):
            continue
        cid = f"AudioSet:{mid}"
        labels[cid] = Label(cid, e["name"], _comma_synonyms(e["name"]),
                            (e.get("description") or None), parents.get(mid, []))
    return LabelSet(name, labels, {"AudioSet": DEFAULT_CURIE_MAP["AudioSet"]}, str(path), "audioset")


def read_id2label(path: str | Path, name: str | None = None) -> LabelSet:
    """The paper's vocabulary JSON ``{"0": "electronic", ...}`` (ids are the encoded labels, so
    they stay the same across vocabulary sizes; ``name="UTSpaper"`` gives the prefix the shipped
    ``mapping/uts-paper.sssom.tsv`` uses)."""
    path = _check(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise LabelSetError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise LabelSetError(f"{path}: expected an id2label object like {{\"0\": \"electronic\"}}")
    ordered = [data[k] for k in sorted(data, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))]
    return from_texts(ordered, name or _stem(path), kind="id2label", source=str(path))


_OWL_SUFFIXES = (".ttl", ".owl", ".rdf", ".nt", ".n3", ".jsonld", ".xml")


def read_owl(path: str | Path, name: str | None = None) -> LabelSet:
    """An OWL/SKOS ontology. A UTS file (any release) goes through :func:`uts.ontology.load`;
    anything else through rdflib: classes and SKOS concepts with ``skos:prefLabel``/``rdfs:label``,
    ``skos:altLabel``/oboInOwl synonyms, ``skos:definition``/IAO:0000115/``rdfs:comment`` and
    ``rdfs:subClassOf``/``skos:broader`` parents."""
    path = _check(path)
    head = path.read_text(encoding="utf-8", errors="replace")[:20000]
    if path.suffix == ".ttl" and "w3id.org/uts/" in head:
        try:
            return from_ontology(load(path), name or _stem(path), str(path))
        except Exception as exc:  # noqa: BLE001 - fall back to the generic reader
            if "UTS_" in head and "owl:Class" in head:
                raise LabelSetError(f"{path}: cannot read UTS ontology ({exc})") from exc
    return _read_rdf(path, name or _stem(path))


def _read_rdf(path: Path, name: str) -> LabelSet:
    g = rdflib.Graph()
    try:
        g.parse(path)
    except Exception as exc:  # noqa: BLE001 - rdflib raises many parser-specific errors
        raise LabelSetError(f"{path}: not a readable RDF/OWL file ({exc})") from exc
    oboinowl = rdflib.Namespace("http://www.geneontology.org/formats/oboInOwl#")
    iao_def = rdflib.URIRef("http://purl.obolibrary.org/obo/IAO_0000115")
    nodes = {s for s in g.subjects(RDF.type, OWL.Class) if isinstance(s, rdflib.URIRef)}
    nodes |= {s for s in g.subjects(RDF.type, SKOS.Concept) if isinstance(s, rdflib.URIRef)}
    if not nodes:
        raise LabelSetError(f"{path}: no owl:Class or skos:Concept found")
    curie_map: dict[str, str] = {}
    prefix_default = prefix_for(name)

    def curie(iri: rdflib.URIRef) -> str:
        try:
            prefix, ns, local = g.namespace_manager.compute_qname(str(iri), generate=False)
            if prefix and local:
                curie_map.setdefault(prefix, str(ns))
                return f"{prefix}:{local}"
        except (ValueError, KeyError):
            pass
        text = str(iri)
        cut = max(text.rfind("#"), text.rfind("/"))
        curie_map.setdefault(prefix_default, text[: cut + 1])
        return f"{prefix_default}:{text[cut + 1:]}"

    def first(s, *preds):
        for p in preds:
            for o in g.objects(s, p):
                if isinstance(o, rdflib.Literal) and (o.language in (None, "en") or not o.language):
                    return str(o)
        return None

    ids = {n: curie(n) for n in nodes}
    labels: dict[str, Label] = {}
    for node, cid in ids.items():
        if (node, OWL.deprecated, rdflib.Literal(True)) in g:
            continue
        text = first(node, SKOS.prefLabel, RDFS.label)
        if not text:
            continue
        syns = sorted({str(o) for p in (SKOS.altLabel, oboinowl.hasExactSynonym, oboinowl.hasRelatedSynonym)
                       for o in g.objects(node, p) if isinstance(o, rdflib.Literal)} - {text})
        desc = first(node, SKOS.definition, iao_def, RDFS.comment)
        parents = sorted(ids[o] for p in (RDFS.subClassOf, SKOS.broader) for o in g.objects(node, p) if o in ids)
        labels[cid] = Label(cid, text, syns, desc, parents)
    return LabelSet(name, labels, curie_map, str(path), "owl")


def read_sssom_side(path: str | Path, side: str = "subject", name: str | None = None) -> LabelSet:
    """The subjects (or objects) of an SSSOM file with their labels."""
    if side not in ("subject", "object"):
        raise LabelSetError(f"side must be 'subject' or 'object', not {side!r}")
    path = _check(path)
    mset = read_sssom(path)
    labels: dict[str, Label] = {}
    for m in mset.mappings:
        cid = getattr(m, f"{side}_id")
        text = getattr(m, f"{side}_label") or cid
        if cid and cid != "sssom:NoTermFound":
            labels.setdefault(cid, Label(cid, text))
    if not labels:
        raise LabelSetError(f"{path}: no mappings")
    curie_map = {p: u for p, u in (mset.metadata.get("curie_map") or {}).items()
                 if any(i.startswith(p + ":") for i in labels)}
    return LabelSet(name or _stem(path), labels, curie_map, str(path), "sssom")


def split_mtg_tag(tag: str) -> tuple[str | None, str]:
    """``genre---rock`` -> ("genre", "rock"); a tag without category -> (None, tag)."""
    if "---" in tag:
        category, value = tag.split("---", 1)
        return category, value
    return None, tag


def iter_mtg_jamendo(path: str | Path) -> Iterator[tuple[list[str], list[str]]]:
    """Rows of an MTG-Jamendo annotation TSV as (first five fields, tags)."""
    path = _check(path)
    with open_text(path) as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
        if not header or header[0] != "TRACK_ID":
            raise LabelSetError(f"{path}: not an MTG-Jamendo TSV (header must start with TRACK_ID)")
        for line in fh:
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) >= 5:
                yield parts[:5], [t for t in parts[5:] if t]


def read_mtg_jamendo(path: str | Path, name: str = "MTGJamendo") -> LabelSet:
    """Tags of MTG-Jamendo annotation files (``category---tag``); the category (genre,
    instrument, mood/theme) becomes a context-only parent so "bass" reads as an instrument."""
    path = _check(path)
    tags: dict[str, None] = {}
    if path.suffix == ".txt":  # the dataset's tag lists (top50.txt, moodtheme.txt)
        with open_text(path) as fh:
            for line in fh:
                if line.strip():
                    tags.setdefault(line.strip())
    else:
        for _, row_tags in iter_mtg_jamendo(path):
            for t in row_tags:
                tags.setdefault(t)
    if not tags:
        raise LabelSetError(f"{path}: no tags")
    labels: dict[str, Label] = {}
    for tag in sorted(tags):
        category, value = split_mtg_tag(tag)
        parents = []
        if category:
            cat_id = f"MTGJamendo:{local_id(category)}"
            labels.setdefault(cat_id, Label(cat_id, category, mappable=False))
            parents.append(cat_id)
        cid = f"MTGJamendo:{local_id(tag)}"
        labels[cid] = Label(cid, value, parents=parents)
    return LabelSet(name, labels, {"MTGJamendo": DEFAULT_CURIE_MAP["MTGJamendo"]}, str(path), "mtg-jamendo")


def read_lhotse(path: str | Path, name: str | None = None) -> LabelSet:
    """The tag values (``supervisions[0].custom.audio_tag``) found in a Lhotse cut manifest."""
    from uts.cuts import ManifestFormatError, iter_cuts  # lazy: polars (~0.5 s) only for Lhotse cuts

    path = _check(path)
    try:
        texts = [t for cut in iter_cuts(path) for t in cut["audio_tag"]]
    except ManifestFormatError as exc:
        raise LabelSetError(str(exc)) from exc
    if not texts:
        raise LabelSetError(f"{path}: no audio_tag values in the manifest")
    return from_texts(texts, name or _stem(path), kind="lhotse", source=str(path))


def detect_format(path: str | Path) -> str:
    """Guess a label-set file's format from its name and first bytes."""
    path = _check(path)
    name = path.name.lower()
    with open_text(path) as fh:
        head = fh.read(4096)
    stripped = head.lstrip()
    if name.endswith(_OWL_SUFFIXES):
        return "owl"
    if name.endswith((".jsonl", ".jsonl.gz")) or (stripped.startswith("{") and "\n{" in stripped
                                                   and '"supervisions"' in head):
        return "lhotse"
    if name.endswith(".json"):
        if stripped.startswith("["):
            return "audioset"
        return "id2label"
    if ".sssom." in name or (stripped.startswith("#") and "curie_map" in head):
        return "sssom"
    if head.startswith("TRACK_ID\t") or (name.endswith(".txt") and re.search(r"^\w[\w/]*---", head, re.M)):
        return "mtg-jamendo"
    if name.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")):
        return "table"
    return "text"


def read_labelset(path: str | Path, format: str | None = None, column: str | None = None,
                  id_column: str | None = None, side: str = "subject", name: str | None = None) -> LabelSet:
    """Read any supported label set (``format`` one of :data:`FORMATS`, guessed when None)."""
    try:
        return _read_labelset(path, format, column, id_column, side, name)
    except UnicodeDecodeError as exc:  # binary or another encoding: say which file, not a codec trace
        raise LabelSetError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); "
                            "a label set must be UTF-8 text, JSON, CSV/TSV or OWL") from None


def _read_labelset(path, format, column, id_column, side, name) -> LabelSet:
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise LabelSetError(f"unknown label set format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "text":
        return read_text(path, name)
    if fmt == "table":
        return read_table(path, column, id_column, name=name)
    if fmt == "audioset":
        return read_audioset_ontology(path, name or "AudioSet")
    if fmt == "id2label":
        return read_id2label(path, name)
    if fmt == "owl":
        return read_owl(path, name)
    if fmt == "sssom":
        return read_sssom_side(path, side, name)
    if fmt == "mtg-jamendo":
        return read_mtg_jamendo(path, name or "MTGJamendo")
    return read_lhotse(path, name)


def uts_target(path: str | Path | None = None) -> LabelSet:
    """The default target: the UTS ontology (``$UTS_ONTOLOGY`` or ontology/uts.ttl)."""
    return from_ontology(load(path), "UTS", str(path or default_ontology_path()))
