"""End-to-end in a real browser: headless Chromium from Debian's packages (chromium,
chromium-driver) driven by selenium. Browse to a concept, search, accept and reject mappings,
make an edit and find it in the file and the change log, see a refused and a stale edit leave the
file byte-identical, and check that the static site's in-browser search ranks exactly like the
Python search (the resolver's answer first) on the whole of UTS.

Skipped, with the reason, where selenium, chromium or chromedriver is not installed (`.ci/run`
installs them). With UTS_UPDATE_SCREENSHOTS=1 the tests also rewrite the screenshots in
docs/img/ that docs/web.md shows."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from _serve_helpers import ME, make_workspace

from uts.mapping.sssom import read_sssom
from uts.ontology import load, normalize_label
from uts.ontology.edit import edit_file, read_changelog
from uts.serve.app import create_app
from uts.serve.search import Searcher, search
from uts.serve.site import build_site

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
SCREENSHOTS = os.environ.get("UTS_UPDATE_SCREENSHOTS") == "1"
DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
# The closed network makes Chromium hang on its background services without these.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,900"]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("headless Chromium not installed: apt-get install chromium chromium-driver "
                    f"(found chromium={CHROMIUM}, chromedriver={CHROMEDRIVER})")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="uts-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    # An installed browser that fails to start is a failure, not a skip.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def live(tmp_path, browser):
    """The web app on a small workspace, served by uvicorn on a free local port."""
    import uvicorn

    onto_path, mapping = make_workspace(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(onto_path, [mapping], editor="Browser Tester")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    browser.delete_all_cookies()
    yield f"http://127.0.0.1:{port}", onto_path, mapping
    server.should_exit = True
    thread.join(10)


def wait_for(browser, css: str, timeout: float = 15):
    return WebDriverWait(browser, timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))


def shows(browser, css: str, text: str, timeout: float = 15) -> bool:
    """Wait until ``css`` shows ``text``. After a form post the old page's message can still be
    there for a moment, and reading it as the new page loads goes stale; this waits it out."""
    return WebDriverWait(browser, timeout).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))


def first_suggestion(browser, label: str, timeout: float = 15):
    """The first live suggestion once it reads ``label``: each keystroke re-renders the list, so an
    element found after an early keystroke can go stale (a loaded machine shows it)."""
    from selenium.common.exceptions import StaleElementReferenceException

    def shown(driver):
        first = driver.find_element(By.CSS_SELECTOR, "#suggestions li a")
        return first if first.is_displayed() and first.text == label else False

    return WebDriverWait(browser, timeout, ignored_exceptions=[StaleElementReferenceException]).until(shown)


def shoot(browser, name: str) -> None:
    if SCREENSHOTS:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(DOCS_IMG / name))


def test_browse_from_the_home_page_to_a_concept_and_search(browser, live):
    url, _, _ = live
    browser.get(url + "/")
    browser.find_element(By.LINK_TEXT, "Tree").click()
    wait_for(browser, "#tree")
    browser.find_element(By.LINK_TEXT, "music").click()  # the open root branch
    assert browser.find_element(By.ID, "label").text == "music"
    browser.find_element(By.LINK_TEXT, "percussion").click()
    browser.find_element(By.LINK_TEXT, "drum").click()
    assert browser.find_element(By.ID, "concept-id").text == "UTS:0000004"
    assert "drums" in browser.find_element(By.ID, "synonyms").text
    assert "snare drum" in browser.find_element(By.ID, "children").text
    box = browser.find_element(By.ID, "q")
    box.send_keys("HI_HATS")  # the live suggestions rank like the resolver: normalised form first
    first = first_suggestion(browser, "hi-hat")
    first.click()
    assert browser.find_element(By.ID, "concept-id").text == "UTS:0000005"
    box = browser.find_element(By.ID, "q")
    box.send_keys("old drum\n")  # the search page (server-side in the app) follows the replacement
    assert wait_for(browser, "#results li a").text == "drum"
    assert "replaced" in browser.find_element(By.ID, "results").text


def test_accept_and_reject_mappings_in_the_review_queue(browser, live):
    url, _, mapping = live
    browser.get(url + "/review")
    browser.find_element(By.LINK_TEXT, "demo.sssom.tsv").click()
    reviewer = browser.find_element(By.CSS_SELECTOR, "#form-reviewer input[name=reviewer]")
    reviewer.send_keys(ME)
    browser.find_element(By.CSS_SELECTOR, "#form-reviewer button").click()
    shoot(browser, "web-review.png")
    browser.find_element(By.CSS_SELECTOR, 'tr[data-subject="DEMO:drums"] button.accept').click()
    assert shows(browser, "#message", "Saved: accept DEMO:drums")
    browser.find_element(By.CSS_SELECTOR, 'tr[data-subject="DEMO:hihat"] button.reject').click()
    assert shows(browser, "#message", "Saved: reject DEMO:hihat")
    browser.find_element(By.CSS_SELECTOR, 'tr[data-subject="DEMO:auto"] button.pick').click()  # the candidate 'car'
    assert shows(browser, "#message", "Saved: pick DEMO:auto")
    rows = {m.pair: m for m in read_sssom(mapping / "demo.sssom.tsv").mappings}
    drums, hihat, car = rows["DEMO:drums", "UTS:0000004"], rows["DEMO:hihat", "UTS:0000005"], rows["DEMO:auto", "UTS:0000008"]
    assert (drums.reviewer_id, drums.negated, hihat.reviewer_id, hihat.negated) == (ME, False, ME, True)
    assert car.mapping_justification == "semapv:ManualMappingCuration" and rows["DEMO:auto", "UTS:0000007"].negated
    assert drums.mapping_date == hihat.mapping_date == date.today().isoformat()
    assert "DEMO:drums" not in browser.find_element(By.ID, "queue").get_attribute("innerHTML")


def test_an_edit_reaches_the_file_and_the_change_log(browser, live):
    url, onto_path, _ = live
    browser.get(url + "/c/UTS_0000004.html")
    browser.find_element(By.CSS_SELECTOR, "#form-add-synonym input[name=synonym]").send_keys("drum set")
    browser.find_element(By.CSS_SELECTOR, "#form-add-synonym button").click()
    assert shows(browser, "#message", "Applied add_synonym")
    assert "drum set" in browser.find_element(By.ID, "synonyms").text
    assert "drum set" in load(onto_path).concepts["UTS:0000004"].synonyms
    assert read_changelog(onto_path)[-1]["what"] == {"op": "add_synonym", "id": "UTS:0000004", "synonym": "drum set"}
    browser.find_element(By.LINK_TEXT, "Change log").click()
    first_row = browser.find_elements(By.CSS_SELECTOR, "#changes tr")[1].text
    assert "Browser Tester" in first_row and "add_synonym" in first_row and "drum set" in first_row


def test_a_refused_or_stale_edit_leaves_the_file_byte_identical(browser, live):
    url, onto_path, _ = live
    before, log = onto_path.read_bytes(), read_changelog(onto_path)
    browser.get(url + "/c/UTS_0000004.html")
    browser.find_element(By.CSS_SELECTOR, "#form-add-synonym input[name=synonym]").send_keys("Hi-Hats")
    browser.find_element(By.CSS_SELECTOR, "#form-add-synonym button").click()
    assert shows(browser, "#error", "collides with active concept UTS:0000005")
    assert onto_path.read_bytes() == before and read_changelog(onto_path) == log
    shoot_refused = browser.find_element(By.ID, "error").text
    assert shoot_refused.startswith("refused:")
    # someone else edits the concept while this page is open: the form is now stale
    browser.get(url + "/c/UTS_0000004.html")
    edit_file({"op": "add_synonym", "id": "UTS:0000004", "synonym": "kit"}, onto_path, editor="elsewhere")
    after = onto_path.read_bytes()
    browser.find_element(By.CSS_SELECTOR, "#form-relabel input[name=label]").send_keys("drum set")
    browser.find_element(By.CSS_SELECTOR, "#form-relabel button").click()
    assert shows(browser, "#error", "conflict: UTS:0000004 changed since you opened this page")
    assert onto_path.read_bytes() == after
    assert "kit" in browser.find_element(By.ID, "synonyms").text  # the page now shows the current version


# -- the static site, opened from disk -------------------------------------------------------
def index_loaded(browser) -> None:
    browser.execute_async_script("window.UTSSearch.ready(arguments[arguments.length - 1])")


def js_search(browser, queries: list[str]) -> list[list[tuple[str, str]]]:
    index_loaded(browser)
    found = browser.execute_script(
        "return arguments[0].map(q => window.UTSSearch.search(q).map(h => [h.id, h.matched_by]))", queries)
    return [[tuple(h) for h in hits] for hits in found]


def test_the_small_site_from_disk_ranks_deprecated_labels_like_lookup(browser, tmp_path):
    onto_path, mapping = make_workspace(tmp_path)
    onto = load(onto_path)
    site = build_site(onto, tmp_path / "site", [mapping], plot=False).out
    browser.get((site / "search.html").as_uri() + "?q=old%20drum")
    assert wait_for(browser, "#results li a").text == "drum"
    queries = ["old drum", "OLD-DRUMS", "drum", "hi hat", "UTS:0000011", "perc", "machine", "<script>", "zzz"]
    assert js_search(browser, queries) == [[(h.id, h.matched_by) for h in search(onto, q)] for q in queries]


def test_the_uts_site_from_disk_searches_like_python_and_finds_synonyms(browser, uts_site):
    onto, site, _ = uts_site
    browser.get((site / "index.html").as_uri())
    shoot_home = browser.find_element(By.ID, "active-count").text
    assert shoot_home == str(sum(1 for _ in onto.active()))
    box = browser.find_element(By.ID, "q")
    box.send_keys("Hi-Hats")  # a synonym
    hihat = onto.resolve("hi-hat")
    first = first_suggestion(browser, hihat.label)
    assert "synonym" in browser.find_element(By.ID, "suggestions").text
    first.click()
    assert browser.find_element(By.ID, "concept-id").text == hihat.id
    shoot(browser, "web-site.png")
    # the browser's normalisation is Python's on every label and synonym of UTS
    texts = sorted({t for c in onto for t in c.all_labels()})
    index_loaded(browser)
    js = browser.execute_script("return arguments[0].map(t => window.UTSSearch.normalize(t))", texts)
    assert [t for t, k in zip(texts, js) if k != normalize_label(t)] == []
    # and the ranking is Python's: labels, synonyms, their variants, partial words, ids, nonsense,
    # and words the resolver never takes as a tag on their own (its stopwords: "clip", "Audio")
    concepts = sorted(onto, key=lambda c: c.id)[::25]
    queries = [q for c in concepts for q in (c.label, c.label.upper().replace(" ", "_") + "s", c.label[:4], c.id,
                                             *c.synonyms[:1])] + ["no such tag", "x", "  drums  ", "clip", "Audio"]
    searcher = Searcher(onto)
    expected = [[(h.id, h.matched_by) for h in searcher.search(q)] for q in queries]
    got = js_search(browser, queries)
    assert len(queries) > 400
    assert [q for q, a, b in zip(queries, got, expected) if a != b] == []
