"""The web app (`uts serve`) without a browser: pages served live, edits through edit_file,
review decisions byte-identical to `uts map review`, and the safety points: CSRF, path
traversal, stale forms, access token, local host names only."""

from __future__ import annotations

import html
import re
import shutil

import pytest
from _serve_helpers import ME, make_workspace
from starlette.testclient import TestClient
from typer.testing import CliRunner

from uts.cli.main import app as cli
from uts.ontology import load
from uts.ontology.edit import edit_file, read_changelog
from uts.serve.app import check_bind, create_app
from uts.serve.mappings import ServeError

EDITOR = "Web Tester"


@pytest.fixture
def ws(tmp_path):
    onto_path, mapping = make_workspace(tmp_path)
    client = TestClient(create_app(onto_path, [mapping], editor=EDITOR), base_url="http://127.0.0.1",
                        follow_redirects=False)
    return client, onto_path, mapping


def field(page: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', page).group(1))


def concept_form(client, cid="UTS:0000004") -> dict:
    page = client.get(f"/c/{cid.replace(':', '_')}.html").text
    return {"csrf": field(page, "csrf"), "id": cid, "version": field(page, "version")}


def row_form(client, subject: str, file="demo.sssom.tsv") -> dict:
    page = client.get("/review/queue", params={"file": file}).text
    row = re.search(rf'data-subject="{subject}">(.*?)</tr>', page, re.S).group(1)
    return {"csrf": field(page, "csrf"), "file": file, "subject_id": subject, "version": field(row, "version")}


def test_pages_are_served_live_with_server_side_search(ws):
    client, _, _ = ws
    assert client.get("/").status_code == 200
    assert "drum" in client.get("/tree.html").text
    found = client.get("/search.html", params={"q": "DRUMS"}).text
    assert re.search(r'<ol class="results" id="results">\s*<li><a href="/c/UTS_0000004.html">drum</a>', found)
    page = client.get("/c/UTS_0000004.html").text
    assert 'id="form-add-synonym"' in page and 'name="csrf"' in page and 'name="version"' in page
    assert client.get("/c/UTS_0000099.html").status_code == 404


def test_an_edit_goes_through_edit_file_and_the_change_log(ws, tmp_path):
    client, onto_path, _ = ws
    reference = tmp_path / "ref" / "uts.ttl"
    reference.parent.mkdir()
    shutil.copy(onto_path, reference)
    r = client.post("/edit", data={**concept_form(client), "op": "add_synonym", "synonym": "tom-tom kit"})
    assert r.status_code == 303 and r.headers["location"] == "/c/UTS_0000004.html?done=add_synonym"
    assert "Applied add_synonym" in client.get(r.headers["location"]).text
    assert "tom-tom kit" in load(onto_path).concepts["UTS:0000004"].synonyms
    last = read_changelog(onto_path)[-1]
    assert last["who"] == EDITOR and last["what"] == {"op": "add_synonym", "id": "UTS:0000004", "synonym": "tom-tom kit"}
    # byte for byte what the library (and so `uts ontology synonym add`) writes
    edit_file({"op": "add_synonym", "id": "UTS:0000004", "synonym": "tom-tom kit"}, reference, editor=EDITOR)
    assert onto_path.read_bytes() == reference.read_bytes()
    assert "tom-tom kit" in client.get("/changes").text


def test_relabel_move_and_deprecate_forms(ws):
    client, onto_path, _ = ws
    assert client.post("/edit", data={**concept_form(client, "UTS:0000006"), "op": "relabel",
                                      "label": "snare"}).status_code == 303
    assert client.post("/edit", data={**concept_form(client, "UTS:0000006"), "op": "move",
                                      "to": "percussion"}).status_code == 303
    assert client.post("/edit", data={**concept_form(client, "UTS:0000008"), "op": "deprecate",
                                      "replaced_by": "vehicle", "reason": "too narrow"}).status_code == 303
    onto = load(onto_path)
    assert onto.concepts["UTS:0000006"].label == "snare" and onto.concepts["UTS:0000006"].parents == ["UTS:0000003"]
    assert onto.concepts["UTS:0000008"].deprecated and onto.concepts["UTS:0000008"].replaced_by == ["UTS:0000007"]
    assert [r["what"]["op"] for r in read_changelog(onto_path)][-3:] == ["relabel", "move", "deprecate"]


def test_a_refused_edit_shows_the_validator_message_and_changes_nothing(ws):
    client, onto_path, _ = ws
    before, log_before = onto_path.read_bytes(), read_changelog(onto_path)
    r = client.post("/edit", data={**concept_form(client), "op": "add_synonym", "synonym": "Hi-Hats"})
    assert r.status_code == 422
    assert "refused: &#39;Hi-Hats&#39; collides with active concept UTS:0000005" in r.text
    r = client.post("/edit", data={**concept_form(client, "UTS:0000003"), "op": "move", "to": "snare drum"})
    assert r.status_code == 422 and "would create a cycle" in r.text
    assert onto_path.read_bytes() == before and read_changelog(onto_path) == log_before


def test_a_post_without_the_csrf_token_is_refused(ws):
    client, onto_path, mapping = ws
    before, sssom = onto_path.read_bytes(), (mapping / "demo.sssom.tsv").read_bytes()
    form = {**concept_form(client), "op": "add_synonym", "synonym": "tom-tom kit"}
    missing = {k: v for k, v in form.items() if k != "csrf"}
    assert client.post("/edit", data=missing).status_code == 403
    assert client.post("/edit", data={**form, "csrf": "forged"}).status_code == 403
    # a page from another site cannot read the cookie: a fresh browser has none to match
    stranger = TestClient(client.app, base_url="http://127.0.0.1", follow_redirects=False)
    r = stranger.post("/edit", data=form)
    assert r.status_code == 403 and "CSRF" in r.text
    review = {k: v for k, v in row_form(client, "DEMO:drums").items() if k != "csrf"}
    assert client.post("/review/decide", data={**review, "action": "accept"}).status_code == 403
    assert onto_path.read_bytes() == before and (mapping / "demo.sssom.tsv").read_bytes() == sssom


def test_a_stale_edit_is_a_conflict_and_leaves_the_file_byte_identical(ws):
    client, onto_path, _ = ws
    tab_a, tab_b = concept_form(client), concept_form(client)  # two tabs open on the same concept
    assert client.post("/edit", data={**tab_a, "op": "add_synonym", "synonym": "kit"}).status_code == 303
    after_a, log = onto_path.read_bytes(), read_changelog(onto_path)
    r = client.post("/edit", data={**tab_b, "op": "relabel", "label": "drum set"})
    assert r.status_code == 409 and "conflict: UTS:0000004 changed since you opened this page" in r.text
    assert onto_path.read_bytes() == after_a and read_changelog(onto_path) == log
    # an editor outside the app (the command line) counts too
    form = concept_form(client)
    edit_file({"op": "set_definition", "id": "drum", "definition": "Struck membrane."}, onto_path, editor="cli")
    after_cli = onto_path.read_bytes()
    assert client.post("/edit", data={**form, "op": "relabel", "label": "drum set"}).status_code == 409
    assert onto_path.read_bytes() == after_cli


def test_review_decisions_are_written_exactly_as_uts_map_review_writes_them(ws, tmp_path):
    client, _, mapping = ws
    cli_copy = tmp_path / "cli"
    shutil.copytree(mapping, cli_copy)
    assert client.post("/review/reviewer", data={"csrf": row_form(client, "DEMO:drums")["csrf"],
                                                 "file": "demo.sssom.tsv", "reviewer": ME}).status_code == 303
    decisions = [("DEMO:drums", {"action": "accept"}), ("DEMO:hihat", {"action": "reject"}),
                 ("DEMO:auto", {"action": "pick", "object_id": "UTS:0000008"}),
                 ("DEMO:motor", {"action": "predicate", "predicate": "skos:broadMatch"}),
                 ("DEMO:gong", {"action": "pick", "pick_text": "Drums"})]
    for subject, form in decisions:
        r = client.post("/review/decide", data={**row_form(client, subject), **form})
        assert r.status_code == 303, r.text
    table = tmp_path / "decisions.tsv"
    table.write_text("subject_id\tdecision\tnew_object_id\tnew_predicate_id\n"
                     "DEMO:drums\taccept\t\t\nDEMO:hihat\treject\t\t\nDEMO:auto\tpick\tUTS:0000008\t\n"
                     "DEMO:motor\tpredicate\t\tbroad\nDEMO:gong\tpick\tUTS:0000004\t\n")
    result = CliRunner().invoke(cli, ["map", "review", str(cli_copy / "demo.sssom.tsv"), "--decisions", str(table),
                                      "-r", ME])
    assert result.exit_code == 0, result.output
    web = (mapping / "demo.sssom.tsv").read_text()
    assert web == (cli_copy / "demo.sssom.tsv").read_text()
    assert web.count(ME) == 6 and "\tNot\t" in web  # hihat rejected, auto's old pair kept as rejected
    # what is left: the rejected label, now unmapped, waiting for someone to pick a target
    left = client.get("/review/queue", params={"file": "demo.sssom.tsv"}).text
    assert re.findall(r'data-subject="([^"]+)"', left) == ["DEMO:hihat"] and "(unmapped)" in left


def test_review_needs_a_reviewer_id_and_refuses_bad_picks(ws):
    client, _, mapping = ws
    before = (mapping / "demo.sssom.tsv").read_bytes()
    r = client.post("/review/decide", data={**row_form(client, "DEMO:drums"), "action": "accept"})
    assert r.status_code == 422 and "set your reviewer id first" in r.text
    r = client.post("/review/reviewer", data={"csrf": row_form(client, "DEMO:drums")["csrf"],
                                              "file": "demo.sssom.tsv", "reviewer": "me"})
    assert r.status_code == 422 and "CURIE" in r.text
    client.cookies.set("uts_reviewer", ME)
    r = client.post("/review/decide", data={**row_form(client, "DEMO:auto"), "action": "pick", "pick_text": "violin"})
    assert r.status_code == 422 and "names nothing" in r.text
    assert (mapping / "demo.sssom.tsv").read_bytes() == before


def test_accepting_a_pair_whose_object_is_not_in_uts_is_refused(ws):
    """Stamped reviewed before, and map apply then refused the whole file for that one id."""
    client, _, mapping = ws
    path = mapping / "demo.sssom.tsv"
    text = path.read_text()
    row = next(line for line in text.splitlines() if line.startswith("DEMO:drums\t"))
    obj = next(f for f in row.split("\t") if f.startswith("UTS:"))
    path.write_text(text.replace(row, row.replace(obj, "UTS:9999999")))
    before = path.read_bytes()
    client.cookies.set("uts_reviewer", ME)
    r = client.post("/review/decide", data={**row_form(client, "DEMO:drums"), "action": "accept"})
    assert r.status_code == 422 and "UTS:9999999 is not in the target" in r.text, r.text[:300]
    assert path.read_bytes() == before


def test_the_queue_filters_by_confidence_set_and_predicate(ws):
    client, _, _ = ws
    subjects = lambda **p: re.findall(r'data-subject="([^"]+)"', client.get("/review/queue", params={  # noqa: E731
        "file": "demo.sssom.tsv", **p}).text)
    assert subjects() == ["DEMO:motor", "DEMO:auto", "DEMO:hihat", "DEMO:drums", "DEMO:gong"]  # least confident first
    assert subjects(min="0.5") == ["DEMO:hihat", "DEMO:drums"]
    assert subjects(max="0.3") == ["DEMO:motor", "DEMO:gong"]
    assert subjects(predicate="skos:closeMatch") == ["DEMO:auto", "DEMO:hihat"]
    assert subjects(predicate="(unmapped)") == ["DEMO:gong"]
    index = client.get("/review").text
    assert "demo.sssom.tsv" in index and "candidates.sssom.tsv</a>" not in index


@pytest.mark.parametrize("bad", ["../ontology/uts.ttl", "../../etc/passwd", "/etc/passwd", "../x.sssom.tsv",
                                 "demo.candidates.sssom.tsv", "link.sssom.tsv", "nested/../../x.sssom.tsv"])
def test_file_parameters_cannot_leave_the_served_folders(ws, tmp_path, bad):
    client, _, mapping = ws
    outside = tmp_path / "x.sssom.tsv"
    shutil.copy(mapping / "demo.sssom.tsv", outside)
    (mapping / "link.sssom.tsv").symlink_to(outside)
    r = client.get("/review/queue", params={"file": bad})
    assert r.status_code == 403 and "refused" in r.text
    before = outside.read_bytes()
    client.cookies.set("uts_reviewer", ME)
    form = {**row_form(client, "DEMO:drums"), "file": bad, "action": "accept"}
    assert client.post("/review/decide", data=form).status_code == 403
    assert outside.read_bytes() == before


def test_a_stale_review_decision_is_a_conflict(ws):
    client, _, mapping = ws
    client.cookies.set("uts_reviewer", ME)
    tab_a, tab_b = row_form(client, "DEMO:hihat"), row_form(client, "DEMO:hihat")
    assert client.post("/review/decide", data={**tab_a, "action": "reject"}).status_code == 303
    after = (mapping / "demo.sssom.tsv").read_bytes()
    r = client.post("/review/decide", data={**tab_b, "action": "accept"})
    assert r.status_code == 409 and "conflict: the rows of DEMO:hihat changed" in r.text
    assert (mapping / "demo.sssom.tsv").read_bytes() == after
    # a decision on another label from the same stale page still goes through
    assert client.post("/review/decide", data={**row_form(client, "DEMO:drums"), "action": "accept"}).status_code == 303


def test_a_non_local_bind_needs_a_token_and_the_token_is_checked(ws):
    with pytest.raises(ServeError, match="--token"):
        check_bind("0.0.0.0", None)
    check_bind("127.0.0.1", None), check_bind("localhost", None), check_bind("0.0.0.0", "s3cret")
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1 and "give an access token" in result.output
    assert result.output.startswith("error: ") and "unexpected" not in result.output  # a user error by the one table
    _, onto_path, mapping = ws
    guarded = TestClient(create_app(onto_path, [mapping], token="s3cret", allowed_hosts=["*"]),
                         base_url="http://192.0.2.7", follow_redirects=False)
    assert guarded.get("/").status_code == 401
    assert guarded.get("/", params={"token": "wrong"}).status_code == 401
    assert guarded.get("/", params={"token": "sécret"}).status_code == 401  # any text, no crash
    r = guarded.get("/c/UTS_0000004.html", params={"token": "s3cret"})
    assert r.status_code == 303 and r.headers["location"] == "/c/UTS_0000004.html"  # token leaves the URL
    assert guarded.get("/c/UTS_0000004.html").status_code == 200  # the cookie now carries it


def test_only_local_host_names_are_answered(ws):
    client, _, _ = ws
    # a DNS-rebinding page reaches 127.0.0.1 under its own host name: refused
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/", headers={"host": "localhost:8000"}).status_code == 200


def test_text_from_the_files_is_never_rendered_as_markup(ws):
    client, _, _ = ws
    page = client.get("/c/UTS_0000010.html").text
    assert "<script>window" not in page and "&lt;script&gt;window.pwned=1" in page
    queue = client.get("/review/queue", params={"file": "demo.sssom.tsv"}).text
    assert "<engine>" not in queue and "Motor &lt;engine&gt;" in queue
