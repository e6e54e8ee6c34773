"""Exports (id2label, tables, OWL for owlready2 and pronto, ancestors), statistics, the demo and
the browsing/lookup/edit CLI."""

from __future__ import annotations

import json
import warnings

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from _ontology_helpers import build_small
from uts.cli.main import app
from uts.ontology import load, save
from uts.ontology.export import (ancestor_edges, concept_table, id2label, select_concepts,
                                 write_ancestors, write_concept_table, write_owl)
from uts.ontology.stats import compute_stats, plot_stats

runner = CliRunner()


@pytest.fixture
def work(tmp_path):
    path = tmp_path / "uts.ttl"
    save(build_small(), path)
    return path


def test_concept_sets_and_id2label():
    o = build_small()
    assert select_concepts(o, root="percussion") == ["UTS:0000003", "UTS:0000004", "UTS:0000005", "UTS:0000006"]
    assert select_concepts(o, domain="sound", leaves_only=True) == ["UTS:0000008", "UTS:0000009"]
    assert "UTS:0000011" not in select_concepts(o) and "UTS:0000011" in select_concepts(o, include_deprecated=True)
    assert select_concepts(o, facet="scene") == []
    assert id2label(o, ["UTS:0000004", "UTS:0000001"]) == {"0": "drum", "1": "sound"}


def test_concept_table_csv_and_parquet(tmp_path):
    o = build_small()
    df = concept_table(o)
    assert df.height == 11 and df.filter(pl.col("id") == "UTS:0000009")["parents"].to_list() == [["UTS:0000007", "UTS:0000010"]]
    write_concept_table(o, tmp_path / "t.parquet")
    back = pl.read_parquet(tmp_path / "t.parquet")
    assert back.equals(df)
    write_concept_table(o, tmp_path / "t.csv")
    csv = pl.read_csv(tmp_path / "t.csv")
    assert csv.filter(pl.col("id") == "UTS:0000009")["parents"].item() == "UTS:0000007|UTS:0000010"
    assert csv.filter(pl.col("id") == "UTS:0000006")["depth"].item() == 3
    with pytest.raises(ValueError, match="must end in"):
        write_concept_table(o, tmp_path / "t.xlsx")


def test_owl_export_loads_in_owlready2_and_pronto(tmp_path):
    import owlready2
    import pronto

    o = build_small()
    o.meta.imports = ["http://10.255.255.1/x.owl"]
    path = write_owl(o, tmp_path / "uts.owl", drop_imports=True)
    world = owlready2.World()
    onto = world.get_ontology(path.as_uri()).load()
    engine = onto.search_one(iri="*UTS_0000009")
    assert {c.iri.rsplit("_", 1)[1] for c in engine.is_a} == {"0000007", "0000010"}
    assert engine.label == ["engine"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = pronto.Ontology(str(path))
    hihat = p["https://w3id.org/uts/UTS_0000005"]
    assert hihat.name == "hi-hat" and {s.description for s in hihat.synonyms} == {"hi hat"}
    assert {t.id for t in hihat.superclasses(distance=1, with_self=False)} == {"https://w3id.org/uts/UTS_0000003"}
    assert str(hihat.definition) == "A definition."


def test_ancestor_edges_and_matrix(tmp_path):
    o = build_small()
    edges = ancestor_edges(o)
    assert ("UTS:0000006", "UTS:0000002") in edges and ("UTS:0000009", "UTS:0000010") in edges
    assert all(a in o.ancestors(c) for c, a in edges)
    ids = ["UTS:0000002", "UTS:0000004", "UTS:0000006"]
    write_ancestors(o, tmp_path / "a.npz", ids)
    m = sp.load_npz(tmp_path / "a.npz").toarray()
    assert np.array_equal(m, np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=bool))
    write_ancestors(o, tmp_path / "a.tsv", ids)
    assert (tmp_path / "a.tsv").read_text().splitlines() == [
        "concept_id\tancestor_id", "UTS:0000004\tUTS:0000002", "UTS:0000006\tUTS:0000002", "UTS:0000006\tUTS:0000004"]


def test_stats_and_plot(tmp_path):
    s = compute_stats(build_small())
    assert (s.active, s.deprecated, s.roots, s.multi_parent) == (10, 1, 2, 1)
    assert s.by_domain == {"music": 5, "sound": 5} and s.by_depth == {0: 2, 1: 3, 2: 4, 3: 1}
    assert s.leaves == 4 and s.leaf_depth_median == 2.0 and s.definition_coverage == 1.0
    png = plot_stats(s, tmp_path / "s.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_runs_end_to_end_on_a_copy(work, tmp_path):
    before = work.read_bytes()
    out = tmp_path / "demo"
    r = runner.invoke(app, ["ontology", "demo", "--out", str(out), "-O", str(work)])
    assert r.exit_code == 0, r.output
    report = (out / "report.md").read_text()
    assert "0 error(s)" in report and "uts demo example sound" in report
    assert json.loads((out / "id2label.json").read_text())["0"] == "sound"
    assert len(json.loads((out / "id2label.json").read_text())) == 11  # 10 active + the added one
    assert "added" in (out / "diff.md").read_text().lower()
    for name in ("stats.png", "concepts.csv", "uts.owl", "migration.tsv", "validation.md"):
        assert (out / name).stat().st_size > 0
    assert work.read_bytes() == before  # the demo edits a scratch copy only


# -- CLI: lookup, show, tree, edits, export, stats ---------------------------------------------
def test_cli_lookup_json_contract(work, tmp_path):
    tags = tmp_path / "tags.txt"
    tags.write_text("snare drum\n\nvIolin\n")
    r = runner.invoke(app, ["ontology", "lookup", "Hi-Hats", "drums", "old drum", "--file", str(tags),
                            "--json", "-O", str(work)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == [
        {"input": "Hi-Hats", "matches": [{"id": "UTS:0000005", "label": "hi-hat", "matched_by": "normalized"}]},
        {"input": "drums", "matches": [{"id": "UTS:0000004", "label": "drum", "matched_by": "synonym"}]},
        {"input": "old drum", "matches": [{"id": "UTS:0000004", "label": "drum", "matched_by": "replaced"}]},
        {"input": "snare drum", "matches": [{"id": "UTS:0000006", "label": "snare drum", "matched_by": "label"}]},
        {"input": "vIolin", "matches": []},
    ]
    text = runner.invoke(app, ["ontology", "lookup", "violin", "-O", str(work)])
    assert text.exit_code == 0 and "no match" in text.output
    assert runner.invoke(app, ["ontology", "lookup", "-O", str(work)]).exit_code == 1


def test_cli_show_and_tree(work):
    r = runner.invoke(app, ["ontology", "show", "engine", "-O", str(work)])
    assert r.exit_code == 0 and "UTS:0000007 vehicle" in r.output and "UTS:0000010 machine" in r.output
    r = runner.invoke(app, ["ontology", "show", "old drum", "-O", str(work)])
    assert "DEPRECATED, replaced by UTS:0000004 drum" in r.output
    r = runner.invoke(app, ["ontology", "show", "violin", "-O", str(work)])
    assert r.exit_code == 1 and "no concept matches 'violin'" in r.stderr
    r = runner.invoke(app, ["ontology", "tree", "music", "--depth", "1", "-O", str(work)])
    assert r.exit_code == 0 and "percussion" in r.output and "… 2 more" in r.output and "drum" not in r.output.replace("2 more", "")


def test_cli_edit_commands_and_refusal(work, tmp_path):
    run = lambda *a: runner.invoke(app, ["ontology", *a, "-O", str(work), "--editor", "t"])  # noqa: E731
    assert run("add", "cymbal", "-p", "percussion", "-s", "crash cymbal", "-d", "A plate.").exit_code == 0
    assert run("relabel", "cymbal", "cymbals (plate)").exit_code == 0
    assert run("synonym", "add", "UTS:0000012", "ride").exit_code == 0
    assert run("define", "ride", "A metal plate.").exit_code == 0
    assert run("add-parent", "engine", "car").exit_code == 0
    assert run("remove-parent", "engine", "car").exit_code == 0
    assert run("move", "car", "--to", "machine").exit_code == 0
    assert run("split", "snare drum", "--into", "piccolo snare", "--into", "field snare").exit_code == 0
    assert run("merge", "hi-hat", "cymbal").exit_code == 0
    assert run("deprecate", "car", "-r", "machine", "--reason", "test").exit_code == 0
    o = load(work)
    assert o.get("UTS:0000012").label == "cymbals (plate)" and "hi-hat" in o.get("UTS:0000012").synonyms
    assert o.get("UTS:0000008").deprecated and o.get("UTS:0000006").deprecated
    before = work.read_bytes()
    r = run("deprecate", "percussion")
    assert r.exit_code == 1 and r.stderr.startswith("error: ") and "active children" in r.stderr
    r = run("add", "Cymbal", "-p", "music", "--dry-run")
    assert r.exit_code == 1 and "collides" in r.stderr
    r = run("add", "gong", "-p", "percussion", "--dry-run")
    assert r.exit_code == 0 and "would apply" in r.output
    assert work.read_bytes() == before
    edits = tmp_path / "e.yaml"
    edits.write_text("- {op: add, label: gong, parents: [percussion]}\n- {op: add, label: gongs, parents: [percussion]}\n")
    r = run("apply", str(edits))
    assert r.exit_code == 1 and "operation 2 of 2" in r.stderr and work.read_bytes() == before


def test_cli_export_and_stats(work, tmp_path):
    run = lambda *a: runner.invoke(app, [*a, "-O", str(work)])  # noqa: E731
    r = run("ontology", "export", "id2label", str(tmp_path / "v.json"), "--root", "percussion", "--leaves")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "v.json").read_text()) == {"0": "hi-hat", "1": "snare drum"}
    assert run("ontology", "export", "table", str(tmp_path / "t.parquet")).exit_code == 0
    assert pl.read_parquet(tmp_path / "t.parquet").height == 10
    assert run("ontology", "export", "owl", str(tmp_path / "u.owl")).exit_code == 0
    assert run("ontology", "export", "ancestors", str(tmp_path / "a.tsv"), "--domain", "music").exit_code == 0
    r = run("ontology", "export", "id2label", str(tmp_path / "x.json"), "--facet", "nothing")
    assert r.exit_code == 1 and "empty" in r.stderr and not (tmp_path / "x.json").exists()
    # a suffix naming another format is the user's slip, said as such (it was "unexpected ValueError"),
    # and RDF/XML is never written under a Turtle name
    for kind, name, says in [("table", "t.ttl", "a concept table must end in .csv, .tsv or .parquet"),
                             ("owl", "u.ttl", "OWL is written as RDF/XML; name it .owl, .rdf or .xml")]:
        r = run("ontology", "export", kind, str(tmp_path / name))
        assert r.exit_code == 1 and r.stderr.strip() == f"error: {tmp_path / name}: {says}", r.stderr
        assert not (tmp_path / name).exists()
    r = runner.invoke(app, ["ontology", "stats", str(work), "--json", "--plot", str(tmp_path / "s.png")])
    assert r.exit_code == 0 and json.loads(r.stdout)["by_domain"] == {"music": 5, "sound": 5}
    assert (tmp_path / "s.png").exists()
