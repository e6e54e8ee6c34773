"""Reading and writing UTS as OWL in Turtle.

Conventions (see docs/ontology.md): each concept is an ``owl:Class`` named ``UTS:nnnnnnn``;
``skos:prefLabel`` (mirrored to ``rdfs:label`` for OWL tools), ``skos:altLabel`` and
``skos:definition`` carry the text; ``rdfs:subClassOf`` the parents; ``owl:deprecated`` and
IAO:0100001 "term replaced by" the deprecation; ``dcterms:source`` the provenance and
``oboInOwl:hasDbXref`` the cross-references. ``utsp:domain``, ``utsp:facet`` and ``utsp:isRoot``
are UTS's own annotation properties. Non-is-a links (part of, source of, typical of, technique
of, related; docs/taxonomy-rules.md) are annotation properties too: ``skos:related`` and four
``utsp:`` sub-properties of it, so OWL reasoners and closure never treat them as hierarchy.

Our own canonical text is read by a line parser; anything else goes through rdflib (imported
only then), which never follows ``owl:imports``, so loading is offline. Writing
is our own canonical serialiser: concepts sorted by id, properties in a fixed order, values
sorted, so a one-concept edit is a few-line diff and save -> load -> save is byte-identical.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from pathlib import Path

from typing import TYPE_CHECKING

from .files import atomic_write_text
from .model import LINK_RELATIONS, Concept, Ontology, OntologyMeta

if TYPE_CHECKING:  # rdflib (~0.1 s to import) loads only for text the canonical fast path declines
    from rdflib import Graph

UTS_NS = "https://w3id.org/uts/UTS_"
UTSP_NS = "https://w3id.org/uts/schema#"
OBO_NS = "http://purl.obolibrary.org/obo/"
OBOINOWL_NS = "http://www.geneontology.org/formats/oboInOwl#"

# relation -> CURIE of its annotation property; every one but "related" is declared
# rdfs:subPropertyOf skos:related, so a SKOS consumer sees them all as "related".
LINK_PROPERTIES = {"part_of": "utsp:partOf", "source_of": "utsp:sourceOf",
                   "typical_of": "utsp:typicalOf", "technique_of": "utsp:techniqueOf",
                   "related": "skos:related"}
LINK_BY_CURIE = {v: k for k, v in LINK_PROPERTIES.items()}
assert tuple(LINK_PROPERTIES) == LINK_RELATIONS

PREFIXES = {
    "UTS": UTS_NS,
    "utsp": UTSP_NS,
    "owl": "http://www.w3.org/2002/07/owl#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "obo": OBO_NS,
    "oboInOwl": OBOINOWL_NS,
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

ANNOTATION_PROPERTIES = [
    "dcterms:source", "oboInOwl:hasDbXref", "obo:IAO_0100001", "skos:altLabel",
    "skos:definition", "skos:prefLabel", "skos:related", "utsp:domain", "utsp:facet", "utsp:isRoot",
]
# The typed-link sub-properties, each declared with ``rdfs:subPropertyOf skos:related``.
LINK_SUBPROPERTIES = sorted(v for v in LINK_PROPERTIES.values() if v != "skos:related")


class OntologyFormatError(ValueError):
    """The file is not readable as a UTS ontology."""


def default_ontology_path() -> Path:
    """``$UTS_ONTOLOGY`` if set, else the working copy ``ontology/uts.ttl`` of this checkout."""
    env = os.environ.get("UTS_ONTOLOGY")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "ontology" / "uts.ttl"


def iri_to_id(iri: str) -> str | None:
    return "UTS:" + iri[len(UTS_NS):] if iri.startswith(UTS_NS) else None


# -- reading ---------------------------------------------------------------------------------
def load(path: str | os.PathLike | None = None) -> Ontology:
    """Load a UTS ontology from Turtle (or any RDF syntax rdflib guesses from the suffix).

    Files in our own canonical form (what :func:`dumps` writes) are read by a fast line parser
    that yields exactly what rdflib would; anything else goes through rdflib. Neither path
    follows ``owl:imports``, so loading never touches the network.
    """
    path = Path(path) if path is not None else default_ontology_path()
    if not path.exists():
        raise FileNotFoundError(f"ontology file not found: {path}")
    if path.is_file() and path.stat().st_size == 0:  # would load as "0 concepts, 0 errors"
        raise OntologyFormatError(f"cannot parse {path}: empty file; a UTS ontology in Turtle is expected")
    if path.suffix not in {".ttl", ""}:
        from rdflib import Graph  # lazy: see the imports above

        graph = Graph()
        try:
            graph.parse(path, format=None)
        except Exception as exc:  # rdflib raises many parser-specific types
            raise OntologyFormatError(f"cannot parse {path}: {exc}") from exc
        return from_graph(graph)
    try:
        text = path.read_text(encoding="utf-8")  # a BOM is dropped by loads()
    except UnicodeDecodeError as exc:
        raise OntologyFormatError(f"cannot parse {path}: not UTF-8 text ({exc})") from exc
    if not text.strip():  # would load as "0 concepts, 0 errors"
        raise OntologyFormatError(f"cannot parse {path}: empty file; a UTS ontology in Turtle is expected")
    try:
        return loads(text)
    except OntologyFormatError as exc:
        raise OntologyFormatError(f"cannot parse {path}: {exc}") from exc


def loads(text: str) -> Ontology:
    """Parse Turtle text (fast path for canonical text, rdflib otherwise)."""
    text = text.removeprefix("\ufeff")  # a byte-order mark from a Windows editor is not Turtle
    onto = _parse_canonical(text)
    if onto is not None:
        return onto
    if text.lstrip().startswith(("<?xml", "<rdf:RDF")):
        raise OntologyFormatError("line 1: this is RDF/XML, not Turtle; name the file .owl or .rdf to read it as "
                                  "RDF/XML (or export Turtle)")
    from rdflib import Graph  # lazy: see the imports above

    graph = Graph()
    rdflib_log = logging.getLogger("rdflib")
    level = rdflib_log.level
    rdflib_log.setLevel(logging.ERROR)  # its "does not look like a valid URI" warnings precede our one line
    try:
        graph.parse(data=text, format="turtle")
    except Exception as exc:
        raise OntologyFormatError(_turtle_error(exc, text)) from exc
    finally:
        rdflib_log.setLevel(level)
    onto = from_graph(graph)
    # rdflib merges repeated subjects silently; a concept declared twice is a duplicate id.
    counts = Counter(_iri_or_curie_to_id(m) for m in _CLASS_DECL.findall(text))
    onto.load_issues.extend(
        ("duplicate_id", cid, f"{cid} is declared {n} times (as owl:Class)")
        for cid, n in sorted(counts.items()) if cid and n > 1
    )
    return onto


def _turtle_error(exc: Exception, text: str) -> str:
    """One line for rdflib's failure: the line number and what was expected."""
    line, why = getattr(exc, "lines", None), getattr(exc, "_why", None)
    if isinstance(line, int) and why:
        hint = " (truncated file?)" if why.startswith("EOF") else ""
        return f"line {line + 1}: Turtle syntax error: {why}{hint}"
    body = text.rstrip()
    if body and not body.endswith("."):  # rdflib fails on some cut tokens without a position
        return (f"line {body.count(chr(10)) + 1}: Turtle syntax error: the file ends in the middle "
                "of a statement (truncated file?)")
    return "cannot parse Turtle: " + " ".join(str(exc).split())


_CLASS_DECL = re.compile(r"^(UTS:\S+|<" + re.escape(UTS_NS) + r"[^>]*>)\s+a\s+owl:Class\b", re.M)


def _iri_or_curie_to_id(token: str) -> str | None:
    return iri_to_id(token[1:-1]) if token.startswith("<") else token


def _new_row() -> dict:
    return {"types": set(), "pref": [], "rdfs": [], "alt": [], "parents": [], "defs": [],
            "domain": None, "facet": None, "deprecated": False, "replaced": [], "sources": [],
            "xrefs": [], "root": False, "links": []}


def from_graph(graph: Graph) -> Ontology:
    from rdflib import URIRef  # lazy: see the imports above
    from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS

    REPLACED_BY = URIRef(OBO_NS + "IAO_0100001")
    HAS_XREF = URIRef(OBOINOWL_NS + "hasDbXref")
    P_DOMAIN = URIRef(UTSP_NS + "domain")
    P_FACET = URIRef(UTSP_NS + "facet")
    P_ROOT = URIRef(UTSP_NS + "isRoot")
    rows: dict[str, dict] = {}
    meta = OntologyMeta()
    ontology_iri = None
    for s, p, o in graph.triples((None, None, None)):
        if p == RDF.type and o == OWL.Ontology:
            ontology_iri = s
            continue
        cid = iri_to_id(str(s)) if isinstance(s, URIRef) else None
        if cid is None:
            continue
        row = rows.get(cid)
        if row is None:
            row = rows[cid] = _new_row()
        if p == RDF.type:
            row["types"].add(o)
        elif p == SKOS.prefLabel:
            row["pref"].append(str(o))
        elif p == RDFS.label:
            row["rdfs"].append(str(o))
        elif p == SKOS.altLabel:
            row["alt"].append(str(o))
        elif p == RDFS.subClassOf:
            pid = iri_to_id(str(o)) if isinstance(o, URIRef) else None
            if pid is not None:
                row["parents"].append(pid)
        elif p == SKOS.definition:
            row["defs"].append(str(o))
        elif p == P_DOMAIN:
            row["domain"] = str(o)
        elif p == P_FACET:
            row["facet"] = str(o)
        elif p == OWL.deprecated:
            row["deprecated"] = _truthy(o)
        elif p == REPLACED_BY:
            rid = iri_to_id(str(o))
            if rid is not None:
                row["replaced"].append(rid)
        elif p == DCTERMS.source:
            row["sources"].append(str(o))
        elif p == HAS_XREF:
            row["xrefs"].append(str(o))
        elif p == P_ROOT:
            row["root"] = _truthy(o)
        elif _curie_of(p) in LINK_BY_CURIE:
            tid = iri_to_id(str(o)) if isinstance(o, URIRef) else None
            if tid is not None:
                row["links"].append((LINK_BY_CURIE[_curie_of(p)], tid))
    if ontology_iri is not None:
        meta.iri = str(ontology_iri)
        v = graph.value(ontology_iri, OWL.versionInfo)
        meta.version = str(v) if v is not None else None
        vi = graph.value(ontology_iri, OWL.versionIRI)
        meta.version_iri = str(vi) if vi is not None else None
        t = graph.value(ontology_iri, DCTERMS.title)
        if t is not None:
            meta.title = str(t)
        d = graph.value(ontology_iri, DCTERMS.description)
        meta.description = str(d) if d is not None else None
        meta.imports = sorted(str(i) for i in graph.objects(ontology_iri, OWL.imports))
    return _build(rows, meta, is_class=lambda row: OWL.Class in row["types"])


def _build(rows: dict[str, dict], meta: OntologyMeta, is_class) -> Ontology:
    """Turn parsed rows into an Ontology, noting what the model cannot hold (several preferred
    labels or definitions for one id) as load issues for validation."""
    concepts, issues = [], []
    for cid, row in rows.items():
        labels = sorted(set(row["pref"] or row["rdfs"]))
        # An IRI that is only referenced (e.g. a dangling parent) is not a concept.
        if not is_class(row) and not labels:
            continue
        if len(labels) > 1:
            issues.append(("multiple_labels", cid,
                           f"{cid} has {len(labels)} preferred labels: {', '.join(map(repr, labels))}"))
        defs = sorted(set(row["defs"]))
        if len(defs) > 1:
            issues.append(("multiple_definitions", cid, f"{cid} has {len(defs)} definitions"))
        concepts.append(Concept(
            id=cid,
            label=labels[0] if labels else "",
            synonyms=sorted(set(row["alt"]) | set(labels[1:])),
            definition=defs[0] if defs else None,
            parents=sorted(set(row["parents"])),
            domain=row["domain"], facet=row["facet"], deprecated=row["deprecated"],
            replaced_by=sorted(set(row["replaced"])), sources=sorted(set(row["sources"])),
            xrefs=sorted(set(row["xrefs"])), root=row["root"], links=sort_links(row["links"]),
        ))
    concepts.sort(key=lambda c: c.id)
    onto = Ontology(concepts, meta)
    onto.load_issues.extend(sorted(issues, key=lambda i: (i[1], i[0])))
    return onto


def sort_links(links) -> list[tuple[str, str]]:
    """Links deduplicated, in relation order then target id (the canonical order)."""
    return sorted(set(map(tuple, links)), key=lambda l: (LINK_RELATIONS.index(l[0]), l[1]))


def _curie_of(iri) -> str:
    text = str(iri)
    for prefix in ("utsp", "skos"):
        if text.startswith(PREFIXES[prefix]):
            return f"{prefix}:{text[len(PREFIXES[prefix]):]}"
    return text


def _truthy(o) -> bool:
    return str(o).strip().lower() in {"true", "1"}


# -- fast path for canonical text ------------------------------------------------------------
# Our own output is line-oriented: one statement per block, one predicate-object per line,
# plain literals on one line. Anything unexpected returns None and rdflib takes over, so the
# fast path can only ever be faster, never different (tests compare the two).
_PREFIX_HEADER = "".join(f"@prefix {k}: <{v}> .\n" for k, v in sorted(PREFIXES.items()))
_PRED_LINE = re.compile(r"    (\S+) (.+) ([;.])")
_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')
_CURIE_ID = re.compile(r"UTS:\S+")
_IRI = re.compile(r"<([^<>\s\"]*)>")
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")
_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_CONCEPT_PREDS = {
    "rdfs:subClassOf": "parents", "rdfs:label": "rdfs", "skos:prefLabel": "pref",
    "skos:altLabel": "alt", "skos:definition": "defs", "obo:IAO_0100001": "replaced",
    "dcterms:source": "sources", "oboInOwl:hasDbXref": "xrefs",
}
_ID_VALUED = {"parents", "replaced"}


class _NotCanonical(Exception):
    pass


def _unescape(body: str) -> str:
    if "\\" not in body:
        return body

    def one(m: re.Match) -> str:
        e = m.group(1)
        if len(e) > 1:
            return chr(int(e[1:], 16))
        if e not in _ESCAPES:
            raise _NotCanonical
        return _ESCAPES[e]

    return _ESCAPE.sub(one, body)


def _literal(obj: str) -> str:
    m = _LITERAL.fullmatch(obj)
    if m is None:
        raise _NotCanonical
    return _unescape(m.group(1))


def _parse_canonical(text: str) -> Ontology | None:
    if not text.startswith(_PREFIX_HEADER) or '"""' in text or "\r" in text:
        return None
    try:
        return _parse_canonical_body(text[len(_PREFIX_HEADER):].split("\n"))
    except _NotCanonical:
        return None


def _parse_canonical_body(lines: list[str]) -> Ontology:
    rows: dict[str, dict] = {}
    declared: Counter = Counter()
    meta = OntologyMeta()
    ontology_seen = False
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        i += 1
        if not line:
            continue
        if line.startswith(" ") or line.startswith("@") or line.startswith("#"):
            raise _NotCanonical
        subject, _, rest = line.partition(" a ")
        if rest == "owl:AnnotationProperty .":
            continue
        if rest == "owl:AnnotationProperty ;":  # a link property's rdfs:subPropertyOf skos:related
            if i >= n or lines[i] != "    rdfs:subPropertyOf skos:related .":
                raise _NotCanonical
            i += 1
            continue
        if rest not in ("owl:Class ;", "owl:Class .", "owl:Ontology ;", "owl:Ontology ."):
            raise _NotCanonical
        end = rest.endswith(".")
        body: list[tuple[str, str]] = []
        while not end:
            if i >= n:
                raise _NotCanonical
            m = _PRED_LINE.fullmatch(lines[i])
            i += 1
            if m is None:
                raise _NotCanonical
            body.append((m.group(1), m.group(2)))
            end = m.group(3) == "."
        if rest.startswith("owl:Ontology"):
            iri = _IRI.fullmatch(subject)
            if iri is None or ontology_seen:
                raise _NotCanonical
            ontology_seen = True
            meta.iri = iri.group(1)
            for pred, obj in body:
                if pred == "owl:versionIRI":
                    meta.version_iri = _iri(obj)
                elif pred == "owl:versionInfo":
                    meta.version = _literal(obj)
                elif pred == "dcterms:title":
                    meta.title = _literal(obj)
                elif pred == "dcterms:description":
                    meta.description = _literal(obj)
                elif pred == "owl:imports":
                    meta.imports.append(_iri(obj))
                else:
                    raise _NotCanonical
            meta.imports = sorted(set(meta.imports))
            continue
        if not _CURIE_ID.fullmatch(subject):
            raise _NotCanonical
        declared[subject] += 1
        row = rows.get(subject)
        if row is None:
            row = rows[subject] = _new_row()
        for pred, obj in body:
            key = _CONCEPT_PREDS.get(pred)
            if key in _ID_VALUED:
                if not _CURIE_ID.fullmatch(obj):
                    raise _NotCanonical
                row[key].append(obj)
            elif key is not None:
                row[key].append(_literal(obj))
            elif pred == "utsp:domain":
                row["domain"] = _literal(obj)
            elif pred == "utsp:facet":
                row["facet"] = _literal(obj)
            elif pred in LINK_BY_CURIE:
                if not _CURIE_ID.fullmatch(obj):
                    raise _NotCanonical
                row["links"].append((LINK_BY_CURIE[pred], obj))
            elif pred in ("owl:deprecated", "utsp:isRoot"):
                if obj not in ("true", "false"):
                    raise _NotCanonical
                row["deprecated" if pred == "owl:deprecated" else "root"] = obj == "true"
            else:
                raise _NotCanonical
    onto = _build(rows, meta, is_class=lambda row: True)
    onto.load_issues.extend(
        ("duplicate_id", cid, f"{cid} is declared {k} times (as owl:Class)")
        for cid, k in sorted(declared.items()) if k > 1
    )
    return onto


def _iri(obj: str) -> str:
    m = _IRI.fullmatch(obj)
    if m is None:
        raise _NotCanonical
    return m.group(1)


# -- writing ---------------------------------------------------------------------------------
def _lit(text: str) -> str:
    """A one-line Turtle string literal (newlines escaped, unlike rdflib's long literals)."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"')
               .replace("\n", "\\n").replace("\r", "\\r"))
    return f'"{escaped}"'


def _curie(concept_id: str) -> str:
    return concept_id  # "UTS:0000123" is already a valid Turtle prefixed name


def dumps(onto: Ontology) -> str:
    """Canonical Turtle for ``onto``."""
    out = [f"@prefix {k}: <{v}> ." for k, v in sorted(PREFIXES.items())]
    out.append("")
    m = onto.meta
    header = [f"<{m.iri}> a owl:Ontology"]
    if m.version_iri:
        header.append(f"    owl:versionIRI <{m.version_iri}>")
    if m.version:
        header.append(f"    owl:versionInfo {_lit(m.version)}")
    header.append(f"    dcterms:title {_lit(m.title)}")
    if m.description:
        header.append(f"    dcterms:description {_lit(m.description)}")
    for imp in sorted(m.imports):
        header.append(f"    owl:imports <{imp}>")
    out.append(" ;\n".join(header) + " .")
    out.append("")
    for prop in ANNOTATION_PROPERTIES:
        out.append(f"{prop} a owl:AnnotationProperty .")
    for prop in LINK_SUBPROPERTIES:
        out.append(f"{prop} a owl:AnnotationProperty ;\n    rdfs:subPropertyOf skos:related .")
    out.append("")
    for cid in sorted(onto.concepts):
        out.append(_concept_block(onto.concepts[cid]))
    return "\n".join(out) + "\n"


def _concept_block(c: Concept) -> str:
    lines = [f"{_curie(c.id)} a owl:Class"]
    for p in sorted(set(c.parents)):
        lines.append(f"    rdfs:subClassOf {_curie(p)}")
    if c.label:
        lines.append(f"    rdfs:label {_lit(c.label)}")
        lines.append(f"    skos:prefLabel {_lit(c.label)}")
    for s in sorted(set(c.synonyms)):
        lines.append(f"    skos:altLabel {_lit(s)}")
    if c.definition:
        lines.append(f"    skos:definition {_lit(c.definition)}")
    if c.domain:
        lines.append(f"    utsp:domain {_lit(c.domain)}")
    if c.facet:
        lines.append(f"    utsp:facet {_lit(c.facet)}")
    if c.root:
        lines.append("    utsp:isRoot true")
    for relation, target in sort_links(c.links):
        lines.append(f"    {LINK_PROPERTIES[relation]} {_curie(target)}")
    for x in sorted(set(c.xrefs)):
        lines.append(f"    oboInOwl:hasDbXref {_lit(x)}")
    for s in sorted(set(c.sources)):
        lines.append(f"    dcterms:source {_lit(s)}")
    if c.deprecated:
        lines.append("    owl:deprecated true")
    for r in sorted(set(c.replaced_by)):
        lines.append(f"    obo:IAO_0100001 {_curie(r)}")
    return " ;\n".join(lines) + " .\n"


def save(onto: Ontology, path: str | os.PathLike | None = None) -> Path:
    """Atomically write ``onto`` as canonical Turtle. Validation and locking are the caller's
    (see :mod:`uts.ontology.edit`)."""
    path = Path(path) if path is not None else default_ontology_path()
    atomic_write_text(path, dumps(onto))
    return path
