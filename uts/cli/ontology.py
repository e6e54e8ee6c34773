"""``uts ontology ...``: look up, browse, edit, validate, release, diff and export UTS.

Thin layer: every command parses its arguments, calls :mod:`uts.ontology` and prints. User errors
(unknown concept, refused edit, bad file) end with a one-line message and exit code 1.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Optional

import typer

from uts.cli.errors import fail as _fail, plot_path, user_errors

app = typer.Typer(
    help="Keep the UTS ontology: look up tags, browse, edit (every edit validated, locked and "
    "logged), validate, release immutable versions, diff versions and export.",
    no_args_is_help=True,
)

ONTOLOGY_HELP = "Ontology file to work on (default: $UTS_ONTOLOGY or ontology/uts.ttl)."
OntologyOpt = typer.Option(None, "--ontology", "-O", help=ONTOLOGY_HELP, show_default=False)
EditorOpt = typer.Option(None, "--editor", help="Name recorded in the change log "
                         "(default: $UTS_EDITOR, git user.name or the OS user).")
DryRunOpt = typer.Option(False, "--dry-run", help="Check the edit and show it, write nothing.")


_user_errors = user_errors  # the one table, uts/cli/errors.py


def _load(path: Optional[Path], acyclic: bool = False):
    """The ontology at ``path`` (default: the working copy); ``acyclic``: refuse a subClassOf
    cycle, which a tree or a depth count would silently leave out."""
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology import load
    from uts.ontology.graph import refuse_cycles
    from uts.ontology.io import default_ontology_path

    onto = load(path)
    if acyclic:
        refuse_cycles(onto, path or default_ontology_path())
    return onto


# -- reading ---------------------------------------------------------------------------------
@app.command()
def lookup(
    text: Optional[list[str]] = typer.Argument(None, help="Free-text tags to resolve."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="Read tags from a file, one per line."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of {input, matches}."),
    ontology: Optional[Path] = OntologyOpt,
) -> None:
    """Resolve free-text tags to concepts and say how each matched.

    Tries the id, the exact label, an exact synonym, then the normalised form (case, separators
    and plurals folded); deprecated concepts are followed to their replacements.
    Example: uts ontology lookup "Hi-Hats" drums --json
    """
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology.resolve import format_lookups, lookup_many, read_tags

    with _user_errors():
        tags = read_tags(text, file)
        if not tags:
            _fail("give tags as arguments or with --file")
        results = lookup_many(_load(ontology), tags)
    typer.echo(json.dumps(results, indent=2, ensure_ascii=False) if as_json else format_lookups(results))


@app.command()
def show(
    concept: str = typer.Argument(..., help="Concept id (UTS:0000123) or label."),
    ontology: Optional[Path] = OntologyOpt,
) -> None:
    """Show one concept: label, synonyms, definition, parents, children, status."""
    # lazy: rich (~50 ms) loads only for the commands that draw with it
    from rich.console import Console
    from rich.table import Table

    with _user_errors():
        onto = _load(ontology)
        c = onto.resolve(concept)
    name = lambda i: f"{i} {onto.concepts[i].label}" if i in onto.concepts else f"{i} (missing)"  # noqa: E731
    t = Table(show_header=False, box=None, title=f"{c.id}  {c.label}")
    status = "active" if not c.deprecated else "DEPRECATED" + (
        f", replaced by {', '.join(map(name, c.replaced_by))}" if c.replaced_by else ", no replacement")
    rows = [("status", status), ("synonyms", ", ".join(c.synonyms) or "-"),
            ("definition", c.definition or "-"), ("domain / facet", f"{c.domain or '-'} / {c.facet or '-'}"),
            ("parents", "\n".join(map(name, c.parents)) or ("- (declared root)" if c.root else "-")),
            ("children", "\n".join(map(name, onto.children(c.id))) or "-"),
            ("links (not is-a)", "\n".join(onto.link_lines(c.id)) or "-"),
            ("depth", str(onto.depth(c.id))),
            ("xrefs", ", ".join(c.xrefs) or "-"), ("sources", ", ".join(c.sources) or "-")]
    for k, v in rows:
        t.add_row(f"[bold]{k}[/bold]", v)
    Console().print(t)


@app.command()
def tree(
    root: Optional[str] = typer.Argument(None, help="Start here (id or label); default: every root."),
    depth: int = typer.Option(2, "--depth", "-d", help="How many levels below the root to show."),
    ontology: Optional[Path] = OntologyOpt,
) -> None:
    """Print the hierarchy as a tree (concepts with several parents appear under each)."""
    # lazy: rich (~50 ms) loads only for the commands that draw with it
    from rich.console import Console
    from rich.tree import Tree

    with _user_errors():
        onto = _load(ontology, acyclic=True)
        starts = [onto.resolve(root).id] if root else onto.roots()

    def grow(node: Tree, cid: str, level: int) -> None:
        kids = onto.children(cid)
        if level >= depth:
            if kids:
                node.add(f"[dim]… {len(kids)} more[/dim]")
            return
        for k in kids:
            grow(node.add(f"{onto.concepts[k].label} [dim]{k}[/dim]"), k, level + 1)

    console = Console()
    for s in starts:
        t = Tree(f"[bold]{onto.concepts[s].label}[/bold] [dim]{s}[/dim]")
        grow(t, s, 0)
        console.print(t)


@app.command()
def validate(
    path: Optional[Path] = typer.Argument(None, help=ONTOLOGY_HELP, show_default=False),
    fmt: str = typer.Option("text", "--format", help="text, json or md."),
    reason: bool = typer.Option(False, "--reason", help="Also run the HermiT reasoner (needs java)."),
    releases: Optional[Path] = typer.Option(None, "--releases", help="Releases folder whose checksums "
                                            "to verify (default: releases/ beside the file)."),
) -> None:
    """Check the ontology; exit 1 when there are errors.

    Errors: cycles, dangling parents, duplicate ids, label collisions, deprecated parents,
    missing labels, modified releases... Warnings (exit 0): missing definitions, orphans, style.
    """
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology.validate import validate_path

    if fmt not in ("text", "json", "md"):
        _fail("--format must be text, json or md")
    # lazy: rich (~50 ms) loads only for the commands that draw with it
    from rich.console import Console

    spinner = Console(stderr=True).status("validating (HermiT reasoner may take a while)…") if reason else nullcontext()
    with _user_errors(), spinner:
        report = validate_path(path, releases_dir=releases, reason=reason)
    typer.echo({"text": report.to_text, "json": report.to_json, "md": report.to_markdown}[fmt]())
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def stats(
    path: Optional[Path] = typer.Argument(None, help=ONTOLOGY_HELP, show_default=False),
    plot: Optional[Path] = typer.Option(None, "--plot", callback=plot_path, help="Write a PNG bar chart here."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Counts per domain, facet and depth, leaves, median leaf depth, definition coverage."""
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology.stats import compute_stats, plot_stats

    with _user_errors():
        s = compute_stats(_load(path, acyclic=True))
    typer.echo(json.dumps(s.as_dict(), indent=2) if as_json else s.to_text())
    if plot is not None:
        typer.echo(f"plot: {plot_stats(s, plot)}", err=as_json)


# -- editing ---------------------------------------------------------------------------------
def _edit(ops, ontology, editor, dry_run) -> None:
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology.edit import edit_file

    with _user_errors():
        records = edit_file(ops, ontology, editor=editor, dry_run=dry_run)
    for r in records:
        typer.echo(("would apply: " if dry_run else "applied: ") + json.dumps(r, ensure_ascii=False))


@app.command()
def add(
    label: str = typer.Argument(..., help="Preferred label of the new concept."),
    parent: list[str] = typer.Option([], "--parent", "-p", help="Parent id or label (repeatable)."),
    synonym: list[str] = typer.Option([], "--synonym", "-s", help="Synonym (repeatable)."),
    definition: Optional[str] = typer.Option(None, "--definition", "-d"),
    domain: Optional[str] = typer.Option(None, help="speech, music, sound or general (default: the parent's)."),
    facet: Optional[str] = typer.Option(None, help="Facet (default: the parent's)."),
    source: list[str] = typer.Option([], "--source", help="Provenance (repeatable)."),
    root: bool = typer.Option(False, "--root", help="Declare a new top-level concept."),
    ontology: Optional[Path] = OntologyOpt, editor: Optional[str] = EditorOpt, dry_run: bool = DryRunOpt,
) -> None:
    """Add a concept; it gets the next free id. Example: uts ontology add "snare drum" -p drum"""
    _edit({"op": "add", "label": label, "parents": parent, "synonyms": synonym, "definition": definition,
           "domain": domain, "facet": facet, "sources": source, "root": root}, ontology, editor, dry_run)


@app.command()
def relabel(
    concept: str = typer.Argument(..., help="Id or current label."),
    label: str = typer.Argument(..., help="New preferred label (the old one stays as a synonym)."),
    ontology: Optional[Path] = OntologyOpt, editor: Optional[str] = EditorOpt, dry_run: bool = DryRunOpt,
) -> None:
    """Change a preferred label; the old label is kept as a synonym."""
    _edit({"op": "relabel", "id": concept, "label": label}, ontology, editor, dry_run)


@app.command("synonym")
def synonym_cmd(
    action: str = typer.Argument(..., help="add or remove."),
    concept: str = typer.Argument(..., help="Id or label."),
    synonym: str = typer.Argument(...),
    ontology: Optional[Path] = OntologyOpt, editor: Optional[str] = EditorOpt, dry_run: bool = DryRunOpt,
) -> None:
    """Add or remove a synonym: uts ontology synonym add drum "drum kit" """
    if action not in ("add", "remove"):
        _fail("action must be add or remove")
    _edit({"op": f"{action}_synonym", "id": concept, "synonym": synonym}, ontology, editor, dry_run)


@app.command()
def define(
    concept: str = typer.Argument(..., help="Id or label."),
    definition: str = typer.Argument(..., help="New definition ('' clears it)."),
    ontology: Optional[Path] = OntologyOpt, editor: Optional[str] = EditorOpt, dry_run: bool = DryRunOpt,
) -> None:
    """Set the definition of a concept."""
    _edit({"op": "set_definition", "id": concept, "definition": definition}, ontology, editor, dry_run)


@app.command()
def move(
    concept: str = typer.Argument(..., help="Id or label."),
    to: list[str] = typer.Option(..., "--to", help="New parent (repeatable)."),
    from_: Optional[str] = typer.Option(None, "--from", help="Replace only this parent (default: all)."),
    ontology: Optional[Path] = OntologyOpt, editor: Optional[str] = EditorOpt, dry_run: bool = DryRunOpt,
) -> None:
    """Move a concept under new parent(s)."""
    op = {"op": "move", "id": concept, "to": to}
    if from_:
        op["from"] = from_
    _edit(op, ontology, editor, dry_run)


@app.command("add-parent")
def add_parent(
    concept: str = typer.Argument(...), parent: str = typer.Argument(...),
    ontology: Optional[Path] = OntologyOpt, editor: Optional[str] = EditorOpt, dry_run: bool = DryRunOpt,
) -> None:
    """Give a concept one more parent (UTS is a DAG)."""
    _edit({"op": "add_parent", "id": concept, "parent": parent}, ontology, editor, dry_run)


@app.command("remove-parent")
def remove_parent(
    concept: str = typer.Argument(...), parent: str = typer.Argument(...),
    ontology: Optional[Path] = OntologyOpt, editor: Optional[str] = EditorOpt, dry_run: bool = DryRunOpt,
) -> None:
    """Remove one of several parents (the last one cannot be removed: use move)."""
    _edit({"op": "remove_parent", "id": concept, "parent": parent}, ontology, editor, dry_run)


@app.command()
def link(
    action: str = typer.Argument(..., help="add or remove."),
    concept: str = typer.Argument(..., help="Id or label."),
    relation: str = typer.Argument(..., help="part_of, source_of, typical_of, technique_of or related."),
    target: str = typer.Argument(..., help="Id or label the link points to."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Recorded in the change log."),
    ontology: Optional[Path] = OntologyOpt, editor: Optional[str] = EditorOpt, dry_run: bool = DryRunOpt,
) -> None:
    """Add or remove a typed link that is NOT is-a; closure never follows it.

    Reads "CONCEPT RELATION TARGET": uts ontology link add "snare drum" part_of "drum kit"
    (see docs/taxonomy-rules.md for when to use a link instead of a parent).
    """
    if action not in ("add", "remove"):
        _fail("action must be add or remove")
    op = {"op": f"{action}_link", "id": concept, "relation": relation, "target": target}
    if reason:
        op["reason"] = reason
    _edit(op, ontology, editor, dry_run)


@app.command()
def merge(
    source: str = typer.Argument(..., help="Concept that goes away (deprecated)."),
    target: str = typer.Argument(..., help="Concept that absorbs it."),
    ontology: Optional[Path] = OntologyOpt, editor: Optional[str] = EditorOpt, dry_run: bool = DryRunOpt,
) -> None:
    """Merge SOURCE into TARGET (SOURCE is deprecated, replaced by TARGET).

    TARGET gains SOURCE's label and synonyms as synonyms; SOURCE's children move to TARGET.
    """
    _edit({"op": "merge", "source": source, "target": target}, ontology, editor, dry_run)


@app.command()
def split(
    concept: str = typer.Argument(..., help="Concept to split (deprecated afterwards)."),
    into: list[str] = typer.Option(..., "--into", help="Label of a new concept (repeat, at least twice)."),
    children_to: Optional[str] = typer.Option(None, "--children-to", help="Where active children go."),
    ontology: Optional[Path] = OntologyOpt, editor: Optional[str] = EditorOpt, dry_run: bool = DryRunOpt,
) -> None:
    """Split a concept into new ones (same parents); the old one is deprecated, replaced by them."""
    _edit({"op": "split", "id": concept, "into": [{"label": x} for x in into], "children_to": children_to},
          ontology, editor, dry_run)


@app.command()
def deprecate(
    concept: str = typer.Argument(...),
    replaced_by: list[str] = typer.Option([], "--replaced-by", "-r", help="Replacement (repeatable)."),
    reparent_to: Optional[str] = typer.Option(None, "--reparent-to", help="Where active children go: "
                                              "a concept, or 'parents' for the deprecated concept's parents."),
    reason: Optional[str] = typer.Option(None, "--reason", help="Recorded in the change log."),
    ontology: Optional[Path] = OntologyOpt, editor: Optional[str] = EditorOpt, dry_run: bool = DryRunOpt,
) -> None:
    """Deprecate a concept (kept forever, marked owl:deprecated).

    Refused while it has active children unless --reparent-to says where they go.
    """
    _edit({"op": "deprecate", "id": concept, "replaced_by": replaced_by, "reparent_to": reparent_to,
           "reason": reason}, ontology, editor, dry_run)


@app.command()
def apply(
    edits: Path = typer.Argument(..., help="YAML or JSON list of operations (see docs/ontology.md)."),
    ontology: Optional[Path] = OntologyOpt, editor: Optional[str] = EditorOpt, dry_run: bool = DryRunOpt,
) -> None:
    """Apply a reviewed edit file all-or-nothing: if any operation is refused, nothing is written."""
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology.edit import read_ops

    with _user_errors():
        ops = read_ops(edits)
    _edit(ops, ontology, editor, dry_run)


# -- releases, diff, export ------------------------------------------------------------------
@app.command()
def release(
    version: Optional[str] = typer.Option(None, "--version", help="X.Y.Z; default: the smallest "
                                          "bump the changes require."),
    ontology: Optional[Path] = OntologyOpt,
    releases: Optional[Path] = typer.Option(None, "--releases", help="Releases folder (default: releases/ beside the file)."),
    changelog: Optional[Path] = typer.Option(None, "--changelog", help="CHANGELOG.md to extend (default: beside the file)."),
    justify: Optional[str] = typer.Option(None, "--justify", help="Allow a smaller --version than the "
                                          "rule requires; this reason is published in the CHANGELOG."),
    editor: Optional[str] = EditorOpt, dry_run: bool = DryRunOpt,
) -> None:
    """Write an immutable release uts-X.Y.Z.ttl (+ .sha256) and a CHANGELOG entry.

    The version must fit the changes: deprecations, merges, splits, lost names or ancestors need
    a major release, additions a minor one, text-only edits a patch (unless --justify says why
    not, in the CHANGELOG for every user to read).
    """
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology.release import release as do_release

    with _user_errors():
        r = do_release(version, ontology, releases, changelog, editor=editor, dry_run=dry_run,
                       justification=justify)
    verb = "would release" if dry_run else "released"
    typer.echo(f"{verb} {r.version} (previous: {r.previous or 'none'}, changes need: "
               f"{r.required_bump or 'nothing'}) -> {r.path}")
    if r.justification:
        typer.echo(f"version rule overridden (changes need {r.required_bump}): {r.justification}")
    if not dry_run:
        typer.echo(f"checksum: {r.checksum_path}\nchangelog: {r.changelog}")


def _resolve_version_or_path(ref: str, releases: Optional[Path], ontology: Optional[Path]) -> Path:
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology.io import default_ontology_path
    from uts.ontology.release import VERSION, verified_release

    p = Path(ref)
    if p.exists():
        return p
    if VERSION.match(ref):
        return verified_release(releases or (ontology or default_ontology_path()).parent / "releases", ref)
    if ref in ("working", "current"):
        return ontology or default_ontology_path()
    raise FileNotFoundError(f"{ref!r} is neither a file nor a release version (X.Y.Z)")


@app.command("diff")
def diff_cmd(
    old: str = typer.Argument(..., help="Old version: a file or a release version (1.0.0)."),
    new: str = typer.Argument("working", help="New version: a file, a release version or 'working'."),
    fmt: str = typer.Option("md", "--format", help="md or json."),
    migration: Optional[Path] = typer.Option(None, "--migration", help="Write the old id -> current id(s) TSV here."),
    releases: Optional[Path] = typer.Option(None, "--releases", help="Releases folder for version numbers."),
    ontology: Optional[Path] = OntologyOpt,
) -> None:
    """Typed changes between two versions and the version bump they require.

    Kinds: added, deprecated, merged, split, relabelled, synonyms changed, moved, definition
    changed, recategorised. Example: uts ontology diff 1.0.0 working --migration mig.tsv
    """
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology import load
    from uts.ontology.diff import diff, migration_table, write_migration_tsv

    if fmt not in ("md", "json"):
        _fail("--format must be md or json")
    with _user_errors():
        a = load(_resolve_version_or_path(old, releases, ontology))
        b = load(_resolve_version_or_path(new, releases, ontology))
        d = diff(a, b)
        label = lambda ref, v: "working copy" if ref in ("working", "current") else (v or ref)  # noqa: E731
        d.old_version, d.new_version = label(old, d.old_version), label(new, d.new_version)
        if migration is not None:
            write_migration_tsv(migration_table(a, b), migration)
    typer.echo(d.to_json() if fmt == "json" else d.to_markdown())
    if migration is not None:
        typer.echo(f"migration table: {migration}", err=True)


@app.command()
def upgrade(
    tags: Optional[list[str]] = typer.Argument(None, help="Tags (ids or labels) made with the old release."),
    old: str = typer.Option(..., "--from", help="The release they were made with: a version or a file."),
    new: str = typer.Option("working", "--to", help="Target: a release version, a file or 'working'."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="Read tags from a file, one per line."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of {input, old_id, current_ids}."),
    releases: Optional[Path] = typer.Option(None, "--releases", help="Releases folder for version numbers."),
    ontology: Optional[Path] = OntologyOpt,
) -> None:
    """Upgrade tags made with an older release to today's concepts.

    Follows merges, splits and deprecations. Example: uts ontology upgrade --from 1.0.0 drums
    """
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology import load
    from uts.ontology.diff import format_upgrades, upgrade_labels
    from uts.ontology.resolve import read_tags

    with _user_errors():
        items = read_tags(tags, file)
        if not items:
            _fail("give tags as arguments or with --file")
        a = load(_resolve_version_or_path(old, releases, ontology))
        b = load(_resolve_version_or_path(new, releases, ontology))
        result = upgrade_labels(items, b, a)
    typer.echo(format_upgrades(result, as_json))


@app.command()
def export(
    kind: str = typer.Argument(..., help="id2label, table, owl or ancestors."),
    out: Path = typer.Argument(..., help="Output file (.json; .csv/.tsv/.parquet; .owl; .tsv/.npz)."),
    root: Optional[str] = typer.Option(None, "--root", help="Only this concept and its descendants."),
    domain: Optional[str] = typer.Option(None, "--domain", help="Only this domain."),
    facet: Optional[str] = typer.Option(None, "--facet", help="Only this facet."),
    leaves: bool = typer.Option(False, "--leaves", help="Only leaves."),
    include_deprecated: bool = typer.Option(False, "--include-deprecated"),
    ontology: Optional[Path] = OntologyOpt,
) -> None:
    """Export a concept set (default: all active concepts, ordered by id) for other tools."""
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.inputs import refuse_clashing_outputs
    from uts.ontology import export as ex
    from uts.ontology.io import default_ontology_path

    if kind not in ("id2label", "table", "owl", "ancestors"):
        _fail("kind must be id2label, table, owl or ancestors")
    with _user_errors():
        refuse_clashing_outputs({"the ontology": ontology or default_ontology_path()}, {"OUT": out})
        onto = _load(ontology)
        ids = ex.select_concepts(onto, root=root, domain=domain, facet=facet, leaves_only=leaves,
                                 include_deprecated=include_deprecated)
        if not ids:
            _fail("the selection is empty")
        if kind == "id2label":
            ex.write_id2label(onto, ids, out)
        elif kind == "table":
            ex.write_concept_table(onto, out, ids)
        elif kind == "owl":
            ex.write_owl(onto, out)
        else:
            ex.write_ancestors(onto, out, ids)
    typer.echo(f"wrote {out} ({len(ids)} concepts)" if kind != "owl" else f"wrote {out}")


@app.command()
def site(
    out: Path = typer.Argument(..., help="Folder to write the site into (an earlier site build there is replaced)."),
    mappings: Optional[list[Path]] = typer.Option(None, "--mappings", "-m", help="Folder of SSSOM files whose "
                                                  "dataset labels the concept pages list (repeatable) "
                                                  "(default: mapping/ beside the ontology folder)."),
    no_plot: bool = typer.Option(False, "--no-plot", help="Leave out the statistics plot on the home page."),
    ontology: Optional[Path] = OntologyOpt,
) -> None:
    """Write the taxonomy as a static website: home page with roots and statistics, one page
    per concept, a collapsible tree, an A-Z list and search (ranked like `lookup`).

    Every asset is written into OUT (no network); links are relative, so the folder can be
    published as it is or opened from disk. Example: uts ontology site out/uts-site
    """
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from rich.progress import track

    from uts.ontology import default_ontology_path
    from uts.serve.mappings import mapping_roots
    from uts.serve.site import build_site

    with _user_errors():
        onto = _load(ontology)
        roots = mapping_roots(ontology or default_ontology_path(), mappings)
        summary = build_site(onto, out, roots, plot=not no_plot,
                             progress=lambda ids: track(ids, description="concept pages", transient=True))
    typer.echo(f"{summary.concepts} concept pages ({summary.active} active), {summary.files} files in {out}")
    typer.echo(f"open {out / 'index.html'}")


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/ontology-demo"), "--out", help="Output folder."),
    ontology: Optional[Path] = OntologyOpt,
) -> None:
    """Run the ontology job end to end (validate, stats + plot, edit a scratch copy, diff, export)."""
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology.demo import run_ontology_demo

    with _user_errors():
        report = run_ontology_demo(out, ontology, progress=lambda m: typer.echo(f"- {m}", err=True))
    typer.echo(f"report: {report}")
