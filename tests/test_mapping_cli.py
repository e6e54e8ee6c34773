"""``uts map`` end to end through the CLI: the default match command, candidates and unmapped
report, review by TSV, evaluate, apply; user errors exit 1 with one line and write nothing."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from uts.cli.main import app
from uts.mapping.sssom import read_sssom, validate_sssom
from uts.ontology import save

from _mapping_helpers import DRUM, mini_ontology

runner = CliRunner()


@pytest.fixture()
def workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("UTS_CACHE_DIR", str(tmp_path / "cache"))
    save(mini_ontology(), tmp_path / "uts.ttl")
    (tmp_path / "tags.txt").write_text("Drums\nheavy rain\nno voice\nspreadsheet macros\n")
    return tmp_path


def _run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_help_lists_subcommands_and_examples():
    res = _run("map", "--help")
    assert res.exit_code == 0
    for word in ("match", "review", "evaluate", "apply", "uts map labels.txt"):
        assert word in res.output


def test_map_source_review_evaluate_apply(workspace):
    w = workspace
    out = w / "tags.sssom.tsv"
    res = _run("map", w / "tags.txt", "--target", w / "uts.ttl", "-o", out, "--candidates", "3")
    assert res.exit_code == 0, res.output
    assert "4 labels: 2 mapped, 2 unmapped" in res.output
    assert validate_sssom(out) == []
    assert read_sssom(out).decided()["tags:Drums"].object_id == DRUM
    unmapped = (w / "tags.unmapped.tsv").read_text()
    assert "no voice\tnegated label" in unmapped and "spreadsheet macros" in unmapped
    assert (w / "tags.candidates.sssom.tsv").exists()

    res = _run("map", "review", out, "--export", w / "todo.tsv")
    assert res.exit_code == 0 and "rows to review" in res.output
    lines = (w / "todo.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, ln.split("\t"))) for ln in lines[1:]]
    for r in rows:
        r["decision"] = "reject" if r["subject_id"] == "tags:Drums" else ""
    (w / "todo.tsv").write_text("\n".join(["\t".join(header)] + ["\t".join(r.get(h, "") for h in header) for r in rows]) + "\n")
    res = _run("map", "review", out, "--decisions", w / "todo.tsv", "--reviewer", "orcid:0000-0002-1825-0097")
    assert res.exit_code == 0, res.output
    assert ("tags:Drums", DRUM) in read_sssom(out).rejected_pairs()

    gold = w / "gold.tsv"
    gold.write_text("subject_id\tobject_id\ntags:Drums\tUTS:0000003\ntags:no%20voice\tsssom:NoTermFound\n")
    res = _run("map", "evaluate", out, gold, "--json")
    figures = json.loads(res.output)
    assert figures["tp"] == 1 and figures["fn"] == 1  # Drums was rejected; no voice correctly unmapped

    ann = w / "clips.csv"
    ann.write_text('id,tags\nc1,"heavy rain"\nc2,Drums\n')
    res = _run("map", "apply", ann, "--mapping", out, "--target", w / "uts.ttl", "-o", w / "clips.jsonl",
               "--report", w / "report.json")
    assert res.exit_code == 0, res.output
    assert "1 left without labels" in res.output
    assert json.loads((w / "report.json").read_text())["unmapped_labels"] == {"Drums": 1}


def test_user_errors_are_one_line_and_write_nothing(workspace):
    w = workspace
    res = runner.invoke(app, ["map", str(w / "missing.txt"), "-o", str(w / "o.sssom.tsv")])
    assert res.exit_code == 1 and "no label set file" in res.output and "Traceback" not in res.output
    assert not (w / "o.sssom.tsv").exists()
    res = runner.invoke(app, ["map", "review", str(w / "missing.sssom.tsv"), "--reviewer", "orcid:1"])
    assert res.exit_code == 1 and "no mapping file" in res.output
    res = runner.invoke(app, ["map", "evaluate", str(w / "tags.txt"), str(w / "none.tsv")])
    assert res.exit_code == 1 and "error:" in res.output
    (w / "m.sssom.tsv").write_text("#mapping_set_id: https://x.org/m\nsubject_id\tpredicate_id\tobject_id\n")
    (w / "a.csv").write_text("id,tags\n1,x\n")
    res = runner.invoke(app, ["map", "apply", str(w / "a.csv"), "-m", str(w / "m.sssom.tsv"), "-t", str(w / "uts.ttl"),
                              "-o", str(w / "a.jsonl"), "--predicates", "exact,sameAs"])
    assert res.exit_code == 1 and "unknown predicate" in res.output and not (w / "a.jsonl").exists()
    (w / "notsssom.sssom.tsv").write_text("garbage\n")
    res = runner.invoke(app, ["map", str(w / "tags.txt"), "--target", str(w / "uts.ttl"), "-o", str(w / "notsssom.sssom.tsv")])
    assert res.exit_code == 1 and "not a readable mapping file" in res.output
    assert (w / "notsssom.sssom.tsv").read_text() == "garbage\n"


def test_interactive_review_saves_each_answer(tmp_path):
    from uts.mapping.sssom import CLOSE, EXACT, LEXICAL, SEMANTIC, Mapping, MappingSet, default_metadata, write_sssom

    meta = default_metadata("https://x.org/m")
    m = tmp_path / "m.sssom.tsv"
    write_sssom(m, MappingSet([
        Mapping("UTS:0000100", CLOSE, "UTS:0000002", SEMANTIC, subject_label="low", object_label="B", confidence=0.3),
        Mapping("UTS:0000101", EXACT, "UTS:0000001", LEXICAL, subject_label="high", object_label="A", confidence=0.9),
    ], meta))
    write_sssom(tmp_path / "m.candidates.sssom.tsv", MappingSet([
        Mapping("UTS:0000100", CLOSE, "UTS:0000002", SEMANTIC, subject_label="low", object_label="B", confidence=0.3),
        Mapping("UTS:0000100", CLOSE, "UTS:0000003", SEMANTIC, subject_label="low", object_label="C", confidence=0.2),
    ], meta))
    # least confident first: pick candidate 2 for "low", accept "high"
    res = runner.invoke(app, ["map", "review", str(m), "-r", "orcid:0000-0002-1825-0097"], input="2\na\n")
    assert res.exit_code == 0, res.output
    assert "2 decisions saved" in res.output
    back = read_sssom(m)
    assert back.decided()["UTS:0000100"].object_id == "UTS:0000003"
    assert back.decided()["UTS:0000101"].reviewer_id == "orcid:0000-0002-1825-0097"
    assert ("UTS:0000100", "UTS:0000002") in back.rejected_pairs()


def test_context_options_reach_the_matcher_and_bad_ones_fail_cleanly(workspace):
    w = workspace
    out = w / "ctx.sssom.tsv"
    res = runner.invoke(app, ["map", str(w / "tags.txt"), "--target", str(w / "uts.ttl"), "-o", str(out),
                              "--domain", "spoken words"])
    assert res.exit_code == 1 and "--domain 'spoken words' names no concept" in res.output
    assert "Traceback" not in res.output and not out.exists()
    res = runner.invoke(app, ["map", str(w / "tags.txt"), "--target", str(w / "uts.ttl"), "-o", str(out),
                              "--verify", "http://localhost:9/v1"])
    assert res.exit_code == 1 and "needs --verify-model" in res.output and not out.exists()
    res = _run("map", w / "tags.txt", "--target", w / "uts.ttl", "-o", out, "--context", "music tags", "--domain", "music")
    assert res.exit_code == 0 and validate_sssom(out) == []
    drums = next(m for m in read_sssom(out).mappings if m.subject_label == "Drums")
    assert drums.object_id == DRUM and "stated context" in (drums.comment or "")
