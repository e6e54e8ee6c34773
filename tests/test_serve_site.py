"""The static site (`uts ontology site`): what a concept page shows, readable without
JavaScript, every internal link resolves, search ranks like the resolver, a rebuild never
clobbers a folder that is not a site, and the whole of UTS renders."""

from __future__ import annotations

import json
import re
import html
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from _serve_helpers import make_workspace
from typer.testing import CliRunner

from uts.cli.main import app as cli
from uts.ontology import load
from uts.serve import pages as pages_module
from uts.serve.mappings import ServeError
from uts.serve.search import Searcher, resolve, search, search_index
from uts.serve.site import build_site


LINK = re.compile(r'<(?:a|link|script|img|form)\b[^>]*?\b(?:href|src|action)="([^"]*)"')


def broken_links(site: Path) -> tuple[int, list[str]]:
    """Every relative href/src/action of every page must name a file of the site."""
    files = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    checked, broken = 0, []
    for page in site.rglob("*.html"):
        folder = page.parent.relative_to(site).as_posix()
        for link in LINK.findall(page.read_text(encoding="utf-8")):
            parts = urlsplit(html.unescape(link))
            if parts.scheme or parts.netloc or not parts.path:  # external, or a fragment on this page
                continue
            checked += 1
            if posixpath.normpath(posixpath.join(folder, unquote(parts.path))) not in files:
                broken.append(f"{page.relative_to(site)} -> {link}")
    return checked, broken


@pytest.fixture
def small_site(tmp_path):
    onto_path, mapping = make_workspace(tmp_path)
    onto = load(onto_path)
    return onto, build_site(onto, tmp_path / "site", [mapping], plot=False).out


def test_a_concept_page_shows_everything_about_the_concept(small_site):
    onto, site = small_site
    drum = (site / "c" / "UTS_0000004.html").read_text()
    assert "<h1 id=\"label\">drum" in drum and "UTS:0000004" in drum and "A definition." in drum
    assert '<span class="syn">drums</span>' in drum
    assert '<a href="../c/UTS_0000003.html">percussion</a>' in drum  # parent
    assert '<a href="../c/UTS_0000006.html">snare drum</a>' in drum  # child
    assert re.search(r'music</a> › <a href="../c/UTS_0000003.html">percussion</a> › <span>drum', drum)  # path
    assert "music · source" in drum  # domain and facet
    # the dataset label the shipped-style mapping file aligns to it
    assert re.search(r"<h3>demo</h3>\s*<ul><li>Drums <span class=\"muted\"><code>DEMO:drums</code> · exact", drum)
    engine = (site / "c" / "UTS_0000009.html").read_text()
    assert engine.count('<div class="path">') == 2  # two parents, two paths to a root
    old = (site / "c" / "UTS_0000011.html").read_text()
    assert "deprecated" in old and 'Replaced by <a href="../c/UTS_0000004.html">drum</a>' in old


def test_text_from_the_files_is_escaped_never_markup(small_site):
    _, site = small_site
    machine = (site / "c" / "UTS_0000010.html").read_text()
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in machine and "<script>window" not in machine
    assert "Motor &lt;engine&gt;" in machine and "<engine>" not in machine  # a dataset label with markup in it


def test_the_site_reads_without_javascript(small_site):
    onto, site = small_site
    tree = (site / "tree.html").read_text()
    assert "<details open><summary>" in tree  # collapsible without a script
    for c in onto.active():  # every active concept is reachable from the tree and the A-Z list
        assert f"c/{c.id.replace(':', '_')}.html" in tree
        assert f"c/{c.id.replace(':', '_')}.html" in (site / "concepts.html").read_text()
    for page in site.rglob("*.html"):  # the one script is an addition, never inline
        assert re.findall(r"<script[^>]*>", page.read_text()) == ['<script src="' + ("../" if page.parent.name == "c" else "") + 'assets/site.js" defer>']
    assert "needs JavaScript" in (site / "search.html").read_text()  # said plainly where it is needed
    assert {p.name for p in (site / "assets").iterdir()} == {"site.js", "style.css", "search-index.js", "search-index.json"}
    assert not re.search(r"(src|href)=\"(https?:)?//", "".join(p.read_text() for p in site.rglob("*.html")))  # no CDN


def test_every_internal_link_of_the_small_site_resolves(small_site):
    _, site = small_site
    checked, broken = broken_links(site)
    assert checked > 50 and broken == []
    # the crawler does catch a dead link
    (site / "c" / "UTS_0000006.html").unlink()
    assert any("UTS_0000006.html" in b for b in broken_links(site)[1])


def test_search_puts_the_resolver_answer_first_then_partial_matches(small_site):
    onto, _ = small_site
    for q in ["drum", "Drums", "HI_HATS", "hi hat", "old drum", "UTS:0000008", "car", "violin"]:
        expected = [m.id for m in resolve(onto, q)]
        assert [h.id for h in search(onto, q)][:len(expected)] == expected, q
    assert [(h.id, h.matched_by) for h in search(onto, "old drum")][:1] == [("UTS:0000004", "replaced")]
    assert [(h.label, h.matched_by) for h in search(onto, "perc")] == [("percussion", "prefix")]
    assert [(h.label, h.matched_by) for h in search(onto, "drum")] == [("drum", "label"), ("snare drum", "contains")]
    assert search(onto, "d") == []  # one letter is too little for partial matches
    index = search_index(onto)
    assert index["concepts"]["UTS:0000011"][1:3] == [1, ["UTS:0000004"]]  # deprecated, replaced by drum
    assert ["drums", "UTS:0000004", 1] in index["entries"]


def test_a_rebuild_replaces_a_site_but_never_another_folder(small_site, tmp_path, monkeypatch):
    onto, site = small_site
    build_site(onto, site, plot=False)  # an earlier build is replaced
    assert "<h3>demo</h3>" not in (site / "c" / "UTS_0000004.html").read_text()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep me")
    with pytest.raises(ServeError, match="not an earlier site build"):
        build_site(onto, other, plot=False)
    assert [p.name for p in other.iterdir()] == ["mine.txt"]
    # a failure half-way leaves the earlier build whole and no temporary folder behind
    before = sorted(p.relative_to(site) for p in site.rglob("*"))
    monkeypatch.setattr(pages_module.Pages, "concept", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        build_site(onto, site, plot=False)
    assert sorted(p.relative_to(site) for p in site.rglob("*")) == before
    assert sorted(p.name for p in site.parent.iterdir() if p.name.startswith(".")) == []


def test_cli_writes_the_site_and_refuses_a_foreign_folder(tmp_path):
    onto_path, _ = make_workspace(tmp_path)
    out = tmp_path / "web"
    result = CliRunner().invoke(cli, ["ontology", "site", str(out), "-O", str(onto_path)])
    assert result.exit_code == 0, result.output
    assert "11 concept pages (10 active)" in result.output
    assert "DEMO:drums" in (out / "c" / "UTS_0000004.html").read_text()  # mapping/ beside the ontology folder
    assert (out / "assets" / "stats.png").stat().st_size > 1000
    result = CliRunner().invoke(cli, ["ontology", "site", str(tmp_path / "ontology"), "-O", str(onto_path)])
    assert result.exit_code == 1 and "not an earlier site build" in result.output
    assert "Traceback" not in result.output


# -- the whole of UTS (built once per session by the uts_site fixture) ------------------------
def test_every_active_uts_concept_has_its_page(uts_site):
    onto, site, printed = uts_site
    active = {c.id for c in onto.active()}
    assert len(active) > 3000
    pages = {}
    for p in (site / "c").glob("*.html"):
        pages[re.search(r'<code id="concept-id">(UTS:\d{7})</code>', p.read_text()).group(1)] = p.name
    assert active <= set(pages) and len(pages) == len(onto)
    home = (site / "index.html").read_text()
    assert f'<td id="active-count">{len(active)}</td>' in home and 'src="assets/stats.png"' in home
    # what the command printed, as docs/web.md shows it for UTS 1.1
    assert f"{len(onto)} concept pages ({len(active)} active)" in printed


def test_every_internal_link_of_the_uts_site_resolves(uts_site):
    _, site, _ = uts_site
    checked, broken = broken_links(site)
    assert checked > 20_000
    assert broken == []


def test_uts_concept_pages_show_typed_links_apart_from_the_hierarchy(uts_site):
    onto, site, _ = uts_site
    linked = [c for c in onto if c.links]
    assert len(linked) > 50  # UTS 1.1 ships typed non-is-a links
    for c in linked:
        cell = re.search(r'<td id="links">(.*?)</td>', (site / "c" / f"{c.id.replace(':', '_')}.html").read_text()).group(1)
        for rel, target in c.links:
            assert f'{rel.replace("_", " ")} <a href="../c/{target.replace(":", "_")}.html"' in cell, (c.id, rel, target)
    robotic = (site / "c" / "UTS_0000103.html").read_text()  # robotic voice, related to synthetic speech
    assert '<td id="links">related <a href="../c/UTS_0000104.html">synthetic speech</a></td>' in robotic
    # a link is not a parent: not among the parents, not on the paths to the root
    assert "synthetic speech" not in re.search(r'<td id="parents">(.*?)</td>', robotic).group(1)
    assert "synthetic speech" not in re.search(r'<nav class="crumbs".*?</nav>', robotic, re.S).group(0)


def test_uts_search_finds_a_concept_by_a_synonym(uts_site):
    onto, site, _ = uts_site
    index = json.loads((site / "assets" / "search-index.json").read_text())
    hihat = onto.resolve("hi-hat")
    assert hihat.synonyms and all([s, hihat.id, 1] in index["entries"] for s in hihat.synonyms)
    hits = search(onto, "Hi-Hats")
    assert (hits[0].id, hits[0].matched_by) == (hihat.id, "synonym")
    assert (site / "assets" / "search-index.js").read_text().startswith("window.UTS_SEARCH_INDEX={")
    # the example of docs/web.md
    assert [h.as_dict() for h in Searcher(onto).search("HI_HATS")[:2]] == [
        {"id": "UTS:0001631", "label": "hi-hat", "matched_by": "normalized", "text": "HI_HATS"},
        {"id": "UTS:0001800", "label": "hi-hat rolls", "matched_by": "prefix", "text": "hi-hat rolls"}]
