"""Edit operations on UTS, in memory and on files.

Every operation is a plain dict, e.g. ``{"op": "add", "label": "snare drum", "parents": ["drum"]}``,
so a batch of reviewed edits is simply a YAML or JSON list of them. Concepts may be named by id or
by label (labels are resolved to ids before anything is recorded).

In memory: :func:`apply_op` / :func:`apply_ops` mutate an :class:`Ontology`. On files:
:func:`edit_file` takes a lock on ``<file>.lock``, re-reads the file inside the lock, applies the
operations, validates, and only then commits the file and its change-log records together
(journal in :mod:`uts.ontology.changelog`) — so an op
that would introduce a validation error leaves the file byte-identical, a batch is all-or-nothing,
and two editors at once never lose an update.

Operations (see docs/ontology.md):
``add`` label, parents | root, [synonyms, definition, domain, facet, sources, xrefs];
``relabel`` id, label (the old label becomes a synonym); ``add_synonym`` / ``remove_synonym`` id,
synonym; ``set_definition`` id, definition; ``move`` id, to, [from]; ``add_parent`` /
``remove_parent`` id, parent; ``merge`` source, target; ``split`` id, into, [children_to];
``deprecate`` id, [replaced_by, reparent_to, reason]; ``add_link`` / ``remove_link`` id,
relation, target (a typed non-is-a link, see docs/taxonomy-rules.md); ``recategorise`` id,
[domain], [facet]; ``make_root`` id (drop every parent, declare a top-level concept). Every operation also takes
an optional ``reason``, kept in the change-log record so reviewed edits stay explainable.
"""

from __future__ import annotations

import copy
import json
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml
from filelock import FileLock, Timeout

from .changelog import (  # noqa: F401  (append/read/changelog_path/current_editor: public here too)
    append_changelog, changelog_path, clean_stale_temps, commit_edit, current_editor, read_changelog,
    reconcile,
)
from .io import default_ontology_path, dumps, load
from .model import DOMAINS, LINK_RELATIONS, Concept, Ontology
from .normalize import normalize_label
from .validate import validate


class EditError(ValueError):
    """An edit was refused; nothing was written."""


# -- helpers ---------------------------------------------------------------------------------
def _ref(onto: Ontology, ref: str, *, active: bool = True, what: str = "concept") -> str:
    """Resolve an id or label to an id, with a clear refusal. A label shared by a deprecated
    and a live concept names the live one."""
    if not isinstance(ref, str) or not ref.strip():
        raise EditError(f"{what} must be a concept id or label, got {ref!r}")
    matches = onto.lookup(ref, include_deprecated=True)
    if len(matches) > 1:
        matches = [m for m in matches if not onto.concepts[m.id].deprecated] or matches
    if not matches:
        raise EditError(f"{what}: no concept matches {ref!r}")
    if len(matches) > 1:
        names = ", ".join(f"{m.id} ({m.label})" for m in matches)
        raise EditError(f"{what}: {ref!r} is ambiguous ({names}); use an id")
    c = onto.concepts[matches[0].id]
    if active and c.deprecated:
        raise EditError(f"{what} {c.id} ({c.label}) is deprecated")
    return c.id


def _refs(onto: Ontology, refs, what: str) -> list[str]:
    if isinstance(refs, str):
        refs = [refs]
    out = []
    for r in refs or []:
        cid = _ref(onto, r, what=what)
        if cid not in out:
            out.append(cid)
    return out


def _text(value, what: str) -> str:
    """A label, synonym or facet: one line of text. A tab or line break inside would split the
    row of every TSV export, the id2label file and `tree`'s lines."""
    if not isinstance(value, str) or not value.strip():
        raise EditError(f"{what} must be a non-empty string, got {value!r}")
    if any(unicodedata.category(ch) == "Cc" for ch in value.strip()):
        raise EditError(f"{what} {value!r} holds a control character (a tab or line break); write it on one line")
    return value.strip()


def _texts(values, what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    return [_text(v, what) for v in values or []]


def _check_no_cycle(onto: Ontology, cid: str, parents: Iterable[str]) -> None:
    for p in parents:
        if p == cid or p in onto.descendants(cid):
            raise EditError(f"making {onto.concepts[p].label!r} ({p}) a parent of "
                            f"{onto.concepts[cid].label!r} ({cid}) would create a cycle")


def _check_label_free(onto: Ontology, text: str, owner: str | None = None) -> None:
    key = normalize_label(text)
    if not key:
        raise EditError(f"label {text!r} has no letters or digits")
    for cid in onto.ids_with_normalized(text):
        c = onto.concepts[cid]
        if cid != owner and not c.deprecated:
            raise EditError(f"{text!r} collides with active concept {c.id} ({c.label!r}) "
                            f"(same normalised form {key!r})")


def _check_domain(domain) -> None:
    if domain is not None and domain not in DOMAINS:
        raise EditError(f"domain must be one of {', '.join(DOMAINS)}, got {domain!r}")


def _reparent_children(onto: Ontology, old: str, new_parents: list[str]) -> list[str]:
    """Give every child of ``old`` the parents ``new_parents`` instead of ``old``."""
    moved = []
    for child in onto.children(old, include_deprecated=True):
        c = onto.concepts[child]
        targets = [p for p in new_parents if p != child and p not in onto.descendants(child)]
        remaining = set(p for p in c.parents if p != old) | set(targets)
        if not remaining and not c.deprecated:
            raise EditError(f"cannot re-parent {child} ({c.label}) under "
                            f"{', '.join(new_parents)}: that would put it below itself")
        c.parents = sorted(remaining)
        moved.append(child)
        onto.touch(child)
    return moved


# -- operations ------------------------------------------------------------------------------
def op_add(onto, label, parents=(), synonyms=(), definition=None, domain=None, facet=None,
           sources=(), xrefs=(), root=False) -> dict:
    label = _text(label, "label")
    parent_ids = _refs(onto, parents, "parent")
    if not parent_ids and not root:
        raise EditError("a new concept needs at least one parent (or root: true)")
    _check_domain(domain)
    synonyms = _texts(synonyms, "synonym")
    for t in [label, *synonyms]:
        _check_label_free(onto, t)
    first = onto.concepts[parent_ids[0]] if parent_ids else None
    cid = onto.next_id()
    onto.concepts[cid] = Concept(
        id=cid, label=label, synonyms=sorted(set(synonyms) - {label}),
        definition=definition.strip() if definition else None, parents=sorted(parent_ids),
        domain=domain or (first.domain if first else None),
        facet=facet or (first.facet if first else None),
        sources=sorted(set(_texts(sources, "source"))), xrefs=sorted(set(_texts(xrefs, "xref"))),
        root=bool(root),
    )
    onto.touch(cid)
    return {"op": "add", "id": cid, "label": label, "parents": sorted(parent_ids)}


def op_relabel(onto, id, label) -> dict:
    cid = _ref(onto, id)
    c = onto.concepts[cid]
    label = _text(label, "label")
    if label == c.label:
        raise EditError(f"{cid} is already labelled {label!r}")
    _check_label_free(onto, label, owner=cid)
    old = c.label
    c.synonyms = sorted((set(c.synonyms) | {old}) - {label})
    c.label = label
    onto.touch(cid)
    return {"op": "relabel", "id": cid, "old_label": old, "label": label}


def op_add_synonym(onto, id, synonym) -> dict:
    cid = _ref(onto, id)
    c = onto.concepts[cid]
    synonym = _text(synonym, "synonym")
    if synonym in c.all_labels():
        raise EditError(f"{cid} ({c.label}) already has the label or synonym {synonym!r}")
    _check_label_free(onto, synonym, owner=cid)
    c.synonyms = sorted(set(c.synonyms) | {synonym})
    onto.touch(cid)
    return {"op": "add_synonym", "id": cid, "synonym": synonym}


def op_remove_synonym(onto, id, synonym) -> dict:
    cid = _ref(onto, id)
    c = onto.concepts[cid]
    if synonym not in c.synonyms:
        raise EditError(f"{cid} ({c.label}) has no synonym {synonym!r}")
    c.synonyms = [s for s in c.synonyms if s != synonym]
    onto.touch(cid)
    return {"op": "remove_synonym", "id": cid, "synonym": synonym}


def op_set_definition(onto, id, definition) -> dict:
    cid = _ref(onto, id)
    c = onto.concepts[cid]
    new = definition.strip() if isinstance(definition, str) and definition.strip() else None
    if new == c.definition:
        raise EditError(f"{cid} ({c.label}) already has this definition")
    old, c.definition = c.definition, new
    return {"op": "set_definition", "id": cid, "old_definition": old, "definition": new}


def op_move(onto, id, to, **kw) -> dict:
    """Replace the parents of ``id`` by ``to``; with ``from``, replace only that parent."""
    cid = _ref(onto, id)
    c = onto.concepts[cid]
    targets = _refs(onto, to, "new parent")
    if not targets:
        raise EditError("move needs at least one new parent ('to')")
    source = kw.pop("from", None)
    if kw:
        raise EditError(f"move: unknown field(s) {', '.join(sorted(kw))}")
    _check_no_cycle(onto, cid, targets)
    old = list(c.parents)
    if source is not None:
        sid = _ref(onto, source, active=False, what="old parent")
        if sid not in c.parents:
            raise EditError(f"{cid} ({c.label}) is not a child of {sid}")
        new = sorted((set(c.parents) - {sid}) | set(targets))
    else:
        new = sorted(targets)
    if new == sorted(old):
        raise EditError(f"{cid} ({c.label}) already has exactly these parents")
    c.parents = new
    c.root = False
    onto.touch(cid)
    return {"op": "move", "id": cid, "old_parents": old, "parents": new}


def op_add_parent(onto, id, parent) -> dict:
    cid = _ref(onto, id)
    c = onto.concepts[cid]
    pid = _ref(onto, parent, what="parent")
    if pid in c.parents:
        raise EditError(f"{pid} is already a parent of {cid} ({c.label})")
    _check_no_cycle(onto, cid, [pid])
    c.parents = sorted(set(c.parents) | {pid})
    c.root = False
    onto.touch(cid)
    return {"op": "add_parent", "id": cid, "parent": pid}


def op_remove_parent(onto, id, parent) -> dict:
    cid = _ref(onto, id)
    c = onto.concepts[cid]
    pid = _ref(onto, parent, active=False, what="parent")
    if pid not in c.parents:
        raise EditError(f"{pid} is not a parent of {cid} ({c.label})")
    if len(c.parents) == 1:
        raise EditError(f"{pid} is the only parent of {cid} ({c.label}); use move to give it another")
    c.parents = [p for p in c.parents if p != pid]
    onto.touch(cid)
    return {"op": "remove_parent", "id": cid, "parent": pid}


def op_merge(onto, source, target) -> dict:
    """Merge ``source`` into ``target``: target gains source's label and synonyms, source is
    deprecated and replaced by target, source's children move to target."""
    sid = _ref(onto, source, what="source")
    tid = _ref(onto, target, what="target")
    if sid == tid:
        raise EditError("cannot merge a concept into itself")
    s, t = onto.concepts[sid], onto.concepts[tid]
    if sid in onto.ancestors(tid):
        raise EditError(f"cannot merge {sid} ({s.label}) into its own descendant {tid} ({t.label}); "
                        "merge the other way round or move the target first")
    moved = _reparent_children(onto, sid, [tid])
    t.synonyms = sorted((set(t.synonyms) | {s.label} | set(s.synonyms)) - {t.label})
    t.xrefs = sorted(set(t.xrefs) | set(s.xrefs))
    s.deprecated, s.replaced_by, s.root = True, [tid], False
    onto.touch(sid, tid)
    return {"op": "merge", "source": sid, "target": tid, "children_moved": moved}


def op_split(onto, id, into, children_to=None) -> dict:
    """Deprecate ``id`` in favour of several new concepts ``into`` (each a dict like ``add``'s
    fields; parents default to the split concept's parents)."""
    cid = _ref(onto, id)
    c = onto.concepts[cid]
    if not isinstance(into, list) or len(into) < 2:
        raise EditError("split needs 'into': a list of at least two new concepts")
    if onto.children(cid) and children_to is None:
        raise EditError(f"{cid} ({c.label}) has active children {', '.join(onto.children(cid))}; "
                        "say where they go with children_to")
    was_root = c.root
    # Deprecate first so the new concepts may reuse the old label's words.
    c.deprecated, c.root = True, False
    onto.touch(cid)
    new_ids = []
    for spec in into:
        if not isinstance(spec, dict):
            spec = {"label": spec}
        spec = {"parents": list(c.parents), "domain": c.domain, "facet": c.facet, "root": was_root,
                **spec}
        if not spec["parents"]:
            spec["root"] = True
        new_ids.append(op_add(onto, **spec)["id"])
    moved = []
    if onto.children(cid, include_deprecated=True):
        target = _ref(onto, children_to, what="children_to")
        moved = _reparent_children(onto, cid, [target])
    c.replaced_by = sorted(new_ids)
    onto.touch(cid)
    return {"op": "split", "id": cid, "into": new_ids, "children_moved": moved}


def op_deprecate(onto, id, replaced_by=(), reparent_to=None, reason=None) -> dict:
    cid = _ref(onto, id)
    c = onto.concepts[cid]
    repl = _refs(onto, replaced_by, "replacement")
    if cid in repl:
        raise EditError("a concept cannot replace itself")
    kids = onto.children(cid)
    moved = []
    if kids:
        if reparent_to is None:
            raise EditError(f"{cid} ({c.label}) still has active children "
                            f"{', '.join(f'{k} ({onto.concepts[k].label})' for k in kids)}; "
                            "give reparent_to (a concept, or 'parents' for its own parents)")
        targets = list(c.parents) if reparent_to == "parents" else _refs(onto, reparent_to, "reparent_to")
        if not targets:
            raise EditError(f"{cid} has no parents to hand its children to")
        if cid in targets:
            raise EditError("cannot re-parent children to the concept being deprecated")
        moved = _reparent_children(onto, cid, targets)
    c.deprecated, c.replaced_by, c.root = True, sorted(repl), False
    onto.touch(cid)
    record = {"op": "deprecate", "id": cid, "replaced_by": sorted(repl), "children_moved": moved}
    if reason:
        record["reason"] = str(reason)
    return record


def op_make_root(onto, id) -> dict:
    """Declare ``id`` a top-level concept: its parents go (closure loses them), its children stay.
    For a concept no existing root holds for every clip (human voice: speech, song and laughter)."""
    cid = _ref(onto, id)
    c = onto.concepts[cid]
    if c.root and not c.parents:
        raise EditError(f"{cid} ({c.label}) is already a root")
    old, c.parents, c.root = list(c.parents), [], True
    onto.touch(cid)
    return {"op": "make_root", "id": cid, "old_parents": old}


def op_recategorise(onto, id, domain=None, facet=None) -> dict:
    """Change a concept's domain and/or facet (e.g. after a move out of the speech root)."""
    cid = _ref(onto, id)
    c = onto.concepts[cid]
    if domain is None and facet is None:
        raise EditError("recategorise needs a domain or a facet")
    _check_domain(domain)
    new_domain = domain if domain is not None else c.domain
    new_facet = _text(facet, "facet") if facet is not None else c.facet
    if (new_domain, new_facet) == (c.domain, c.facet):
        raise EditError(f"{cid} ({c.label}) already has domain {c.domain!r} and facet {c.facet!r}")
    record = {"op": "recategorise", "id": cid, "old": {"domain": c.domain, "facet": c.facet},
              "domain": new_domain, "facet": new_facet}
    c.domain, c.facet = new_domain, new_facet
    return record


def _link(onto, id, relation, target) -> tuple[str, str, str]:
    cid = _ref(onto, id)
    relation = str(relation).replace("-", "_")
    if relation not in LINK_RELATIONS:
        raise EditError(f"relation must be one of {', '.join(LINK_RELATIONS)}, got {relation!r}")
    tid = _ref(onto, target, what="link target")
    if tid == cid:
        raise EditError(f"{cid} cannot be linked to itself")
    return cid, relation, tid


def op_add_link(onto, id, relation, target) -> dict:
    """A typed non-is-a link ``id relation target`` (e.g. snare drum part_of drum kit). Links are
    annotations only: closure and ancestors never follow them."""
    cid, relation, tid = _link(onto, id, relation, target)
    c = onto.concepts[cid]
    if (relation, tid) in c.links:
        raise EditError(f"{cid} ({c.label}) already has the link {relation} {tid}")
    c.links = sorted(set(c.links) | {(relation, tid)},
                     key=lambda l: (LINK_RELATIONS.index(l[0]), l[1]))
    return {"op": "add_link", "id": cid, "relation": relation, "target": tid}


def op_remove_link(onto, id, relation, target) -> dict:
    cid, relation, tid = _link(onto, id, relation, target)
    c = onto.concepts[cid]
    if (relation, tid) not in c.links:
        raise EditError(f"{cid} ({c.label}) has no link {relation} {tid}")
    c.links = [l for l in c.links if l != (relation, tid)]
    return {"op": "remove_link", "id": cid, "relation": relation, "target": tid}


OPERATIONS: dict[str, Callable[..., dict]] = {
    "add": op_add, "relabel": op_relabel, "add_synonym": op_add_synonym,
    "remove_synonym": op_remove_synonym, "set_definition": op_set_definition, "move": op_move,
    "add_parent": op_add_parent, "remove_parent": op_remove_parent, "merge": op_merge,
    "split": op_split, "deprecate": op_deprecate, "add_link": op_add_link,
    "remove_link": op_remove_link, "recategorise": op_recategorise, "make_root": op_make_root,
}


def apply_op(onto: Ontology, op: dict) -> dict:
    """Apply one operation in place; returns the record (ids resolved) for the change log.
    On :class:`EditError` ``onto`` may be partly changed: use :func:`apply_ops` for safety."""
    if not isinstance(op, dict) or "op" not in op:
        raise EditError(f"an operation is a mapping with an 'op' field, got {op!r}")
    name = str(op["op"]).replace("-", "_")
    fn = OPERATIONS.get(name)
    if fn is None:
        raise EditError(f"unknown operation {op['op']!r}; known: {', '.join(OPERATIONS)}")
    args = {k: v for k, v in op.items() if k not in ("op", "reason")}
    reason = op.get("reason")
    if reason is not None and not (isinstance(reason, str) and reason.strip()):
        raise EditError(f"{name}: reason must be a non-empty string, got {reason!r}")
    try:
        record = fn(onto, **args)
    except TypeError as exc:  # missing or unexpected fields
        raise EditError(f"{name}: {exc}".replace(f"op_{name}() ", "")) from None
    if reason:
        record["reason"] = reason.strip()
    return record


def apply_ops(onto: Ontology, ops: list[dict], check: bool = True) -> tuple[Ontology, list[dict]]:
    """Apply ``ops`` to a copy of ``onto``; all or nothing. With ``check``, refuse the batch if
    it introduces validation errors. Returns the edited copy and the change records."""
    if not isinstance(ops, list):
        raise EditError("a batch is a list of operations")
    work = copy.deepcopy(onto)
    records = []
    for n, op in enumerate(ops, 1):
        try:
            records.append(apply_op(work, op))
        except EditError as exc:
            where = f"operation {n} of {len(ops)} ({op.get('op') if isinstance(op, dict) else op})"
            if isinstance(ops, OpList):  # read from a file: name its line
                raise EditError(f"{ops.place(n - 1)}: {where} refused: {exc}") from None
            raise EditError(f"{where} refused: {exc}" if len(ops) > 1 else str(exc)) from None
    if check:
        before = {i.key for i in validate(onto).errors}
        new = [i for i in validate(work).errors if i.key not in before]
        if new:
            raise EditError("refused, the edit would introduce validation errors: "
                            + "; ".join(i.message for i in new))
    return work, records


# -- files: lock (the change log and its journal live in changelog.py) ------------------------
def lock_for(path: str | Path, timeout: float = 60) -> FileLock:
    return FileLock(str(path) + ".lock", timeout=timeout)


def edit_file(ops: list[dict] | dict, path: str | Path | None = None, *, editor: str | None = None,
              dry_run: bool = False, timeout: float = 60) -> list[dict]:
    """Apply one op or a batch to the ontology file, all or nothing; returns the change records.

    Read-modify-write happens inside the lock, so concurrent editors serialise instead of
    overwriting each other. The file is only written (atomically) when every op succeeded and
    no new validation error appeared, together with its change-log records
    (:func:`~uts.ontology.changelog.commit_edit`: a crash leaves the old or the new file and log).
    An interrupted earlier edit is first finished or rolled back, and a dead writer's temporary
    files removed.
    """
    path = Path(path) if path is not None else default_ontology_path()
    ops = [ops] if isinstance(ops, dict) else ops
    try:
        with lock_for(path, timeout):
            if not dry_run:
                clean_stale_temps(path)
                reconcile(path)
            onto = load(path)
            edited, records = apply_ops(onto, ops)
            if not dry_run:
                commit_edit(path, dumps(edited), records, editor)
    except Timeout:
        raise EditError(f"{path} is locked by another editor (waited {timeout:g}s)") from None
    return records


class OpList(list):
    """Operations read from an edit file, which can say where each one starts (``FILE:LINE``):
    :func:`apply_ops` names it when it refuses one. Worked out only then (a second parse)."""

    def __init__(self, ops: list[dict], path: Path, text: str):
        super().__init__(ops)
        self._source = (path, text)

    def place(self, index: int) -> str:
        return _op_places(*self._source, len(self))[index]


def read_ops(path: str | Path) -> OpList:
    """Read a reviewed edit file: a YAML or JSON list of operations (or a mapping whose ``ops``
    holds it). A syntax error is one line naming the file, line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EditError(f"cannot read edit file {path}: not UTF-8 text (bad byte at offset {exc.start}); "
                        "a YAML or JSON list of operations is expected") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise EditError(f"cannot read edit file {path}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg})") from None
    except yaml.YAMLError as exc:  # yaml's own text runs to 5-8 lines, quoting the file
        mark, context = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
        at = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        opened = f"; {exc.context} at line {context.line + 1}" if context and getattr(exc, "context", None) else ""
        raise EditError(f"cannot read edit file {at}: not YAML ({getattr(exc, 'problem', None) or exc}{opened})") from None
    if isinstance(data, dict) and "ops" in data:
        data = data["ops"]
    if not isinstance(data, list) or not all(isinstance(o, dict) for o in data):
        raise EditError(f"{path} must hold a list of operations (mappings with an 'op' field)")
    return OpList(data, path, text)


def _op_places(path: Path, text: str, n: int) -> list[str]:
    """``FILE:LINE`` where each of the ``n`` operations starts (JSON is YAML enough for this);
    just ``FILE`` where the file does not compose as YAML."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return [str(path)] * n
    if isinstance(node, yaml.MappingNode):
        node = next((v for k, v in node.value if k.value == "ops"), None)
    items = node.value if isinstance(node, yaml.SequenceNode) else []
    if len(items) != n:
        return [str(path)] * n
    return [f"{path}:{item.start_mark.line + 1}" for item in items]
