"""``uts serve``: the taxonomy's pages plus mapping review and edit proposals, as a local web app.

The pages are the static site's (:mod:`uts.serve.pages`), rendered live from the working copy so
an edit shows at once. Two workflows write files, each through the library function the CLI uses:

- mapping review: decisions go through :func:`uts.mapping.review.apply_decisions` (reviewer id and
  date, rejected pairs kept) and :func:`uts.mapping.sssom.write_sssom`, exactly as
  ``uts map review`` writes them;
- edits: :func:`uts.ontology.edit.edit_file` (lock, validation, change log); a refused edit shows
  the validator's message and leaves the file byte-identical.

Safe by default: it binds 127.0.0.1 and answers only to local host names (no DNS rebinding); a
non-local bind needs an access token; every form POST carries a CSRF token (double-submit cookie,
SameSite=Strict); file parameters are paths inside the served folders (:func:`served_file`);
each form carries the version of what it changes (a concept's hash, a mapping subject's rows'
hash) and a stale one is answered with a conflict, nothing written. Files are only parsed as
data and everything shown is HTML-escaped; nothing in them is ever executed.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from uts.mapping.labelsets import from_ontology
from uts.mapping.review import Decision, ReviewError, apply_decisions, review_rows
from uts.mapping.sssom import PREDICATES, SSSOMError, read_sssom, write_sssom
from uts.ontology import Ontology, load
from uts.ontology.edit import EditError, current_editor, edit_file, read_changelog

from .mappings import (ServeError, candidates_for, dataset_labels, mapping_files, served_file,
                       subject_version)
from .pages import STATIC_DIR, Pages, concept_version
from .search import Searcher, resolve, search_index_js

CSRF_COOKIE, TOKEN_COOKIE, REVIEWER_COOKIE = "uts_csrf", "uts_token", "uts_reviewer"
LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1"]
EDIT_OPS = ("add_synonym", "relabel", "move", "deprecate")
REVIEW_ACTIONS = ("accept", "reject", "pick", "predicate")
QUEUE_PAGE = 50


def is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Workspace:
    """What the app serves: one ontology file and the folders holding mapping files. Reads are
    cached until the file changes on disk; writes are serialised by ``lock``."""

    ontology_path: Path
    mapping_roots: list[Path]
    editor: str
    reviewer: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _onto: tuple | None = None
    _datasets: tuple | None = None

    def ontology(self) -> Ontology:
        return self._loaded()["onto"]

    def derived(self, name: str, make):
        """Something computed from the current ontology (searcher, search index), kept until the
        file changes."""
        loaded = self._loaded()
        if name not in loaded:
            loaded[name] = make(loaded["onto"])
        return loaded[name]

    def _loaded(self) -> dict:
        st = self.ontology_path.stat()
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._onto is None or self._onto[0] != key:
            self._onto = (key, {"onto": load(self.ontology_path)})
        return self._onto[1]

    def pages(self) -> Pages:
        files = mapping_files(self.mapping_roots)
        key = tuple((p, p.stat().st_mtime_ns) for p, _ in files)
        if self._datasets is None or self._datasets[0] != key:
            self._datasets = (key, dataset_labels(self.mapping_roots))
        return Pages(self.ontology(), self._datasets[1])


# -- security ------------------------------------------------------------------------------------
def same(a: str, b: str) -> bool:
    """Constant-time comparison of secrets (bytes, so any text a client sends compares)."""
    return secrets.compare_digest(a.encode(), b.encode())


class Guard(BaseHTTPMiddleware):
    """Access token (when set) and the CSRF cookie every page's forms copy."""

    def __init__(self, app, token: str | None):
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next) -> Response:
        if self.token:
            given = request.query_params.get("token")
            if given is not None and same(given, self.token):
                # Trade the token in the URL for a cookie, and drop it from the address bar.
                rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
                response = RedirectResponse(request.url.path + (f"?{rest}" if rest else ""), 303)
                response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
                return response
            cookie = request.cookies.get(TOKEN_COOKIE, "")
            if not same(cookie, self.token):
                return PlainTextResponse("refused: this app needs its access token; open the address "
                                         "`uts serve` printed (it ends in ?token=...)", 401)
        fresh = CSRF_COOKIE not in request.cookies
        request.state.csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = await call_next(request)
        if fresh:
            response.set_cookie(CSRF_COOKIE, request.state.csrf, httponly=True, samesite="strict")
        return response


async def checked_form(request: Request):
    """The form of a POST, after the CSRF check (form field must equal the cookie)."""
    form = await request.form()
    sent, cookie = str(form.get("csrf", "")), request.cookies.get(CSRF_COOKIE, "")
    if not sent or not cookie or not same(sent, cookie):
        raise ServeError("refused: missing or wrong CSRF token; reload the page and submit again")
    return form


# -- the app -------------------------------------------------------------------------------------
def create_app(ontology_path: str | Path, mapping_roots: list[Path] = (), *, token: str | None = None,
               editor: str | None = None, reviewer: str | None = None,
               allowed_hosts: list[str] | None = None) -> Starlette:
    """The web app over one ontology file and the mapping files under ``mapping_roots``.
    ``allowed_hosts``: host names it answers to (default: local names only; ``["*"]`` when
    serving other machines behind a token)."""
    ws = Workspace(Path(ontology_path).resolve(), [Path(r).resolve() for r in mapping_roots],
                   editor or current_editor(), reviewer)
    if not ws.ontology_path.is_file():
        raise ServeError(f"no ontology file at {ws.ontology_path}")
    ws.pages()  # read the ontology and the mapping files now: a bad one fails at startup, not on a request

    def context(request: Request) -> dict:
        return {"csrf": request.state.csrf, "editor": ws.editor}

    def refused(request: Request, exc: Exception, status: int = 400) -> HTMLResponse:
        return HTMLResponse(ws.pages().render("message.html", "/", app=context(request), error=str(exc),
                                              title="Refused"), status)

    async def home(request: Request):
        return HTMLResponse(ws.pages().home("/", app=context(request)))

    async def tree(request: Request):
        return HTMLResponse(ws.pages().tree("/", app=context(request)))

    async def az(request: Request):
        return HTMLResponse(ws.pages().az("/", app=context(request)))

    async def search_page(request: Request):
        query = request.query_params.get("q", "")
        pages = ws.pages()
        hits = ws.derived("searcher", Searcher).search(query) if query.strip() else None
        return HTMLResponse(pages.search("/", query=query, hits=hits, app=context(request)))

    async def index_js(request: Request):
        return Response(ws.derived("index_js", search_index_js), media_type="text/javascript")

    async def concept(request: Request):
        cid = request.path_params["name"].replace("_", ":", 1)
        pages = ws.pages()
        if cid not in pages.onto.concepts:
            return refused(request, ServeError(f"no concept {cid}"), 404)
        done = request.query_params.get("done")
        message = f"Applied {done}: written to {ws.ontology_path.name} and logged." if done in EDIT_OPS else None
        return HTMLResponse(pages.concept(cid, "/", app=context(request), message=message))

    async def edit(request: Request):
        try:
            form = await checked_form(request)
        except ServeError as exc:
            return refused(request, exc, 403)
        cid, name = str(form.get("id", "")), str(form.get("op", ""))
        if name not in EDIT_OPS:
            return refused(request, ServeError(f"unknown edit {name!r}; the web app offers {', '.join(EDIT_OPS)}"))
        op = edit_op(name, cid, form)
        with ws.lock:
            pages = ws.pages()
            if cid not in pages.onto.concepts:
                return refused(request, ServeError(f"no concept {cid}"), 404)
            if concept_version(pages.onto, cid) != form.get("version"):
                error = (f"conflict: {cid} changed since you opened this page (another tab or editor saved "
                         "first). Your edit was not applied; the page now shows the current version.")
                return HTMLResponse(pages.concept(cid, "/", app=context(request), error=error), 409)
            try:
                edit_file(op, ws.ontology_path, editor=ws.editor)
            except EditError as exc:
                return HTMLResponse(pages.concept(cid, "/", app=context(request), error=f"refused: {exc}"), 422)
        return RedirectResponse(f"/c/{cid.replace(':', '_')}.html?done={name}", 303)

    async def changes(request: Request):
        records = list(reversed(read_changelog(ws.ontology_path)))[:200]
        return HTMLResponse(ws.pages().render("changes.html", "/", app=context(request), records=records,
                                               log=ws.ontology_path.name))

    # -- mapping review --------------------------------------------------------------------------
    def reviewer_of(request: Request) -> str | None:
        return request.cookies.get(REVIEWER_COOKIE) or ws.reviewer

    async def review_index(request: Request):
        sets = []
        for path, rel in mapping_files(ws.mapping_roots):
            try:
                mset = read_sssom(path)
                cands = read_sssom(candidates_for(path)) if candidates_for(path).is_file() else None
            except SSSOMError as exc:
                sets.append({"file": rel, "error": str(exc)})
                continue
            sets.append({"file": rel, "rows": len(mset), "reviewed": sum(m.reviewed for m in mset.mappings),
                         "todo": len(review_rows(mset, cands)), "candidates": cands is not None,
                         "error": None})
        return HTMLResponse(ws.pages().render("review_index.html", "/", app=context(request), sets=sets))

    def queue_filters(params) -> dict:
        return {k: str(params.get(k, "")).strip() for k in ("file", "min", "max", "predicate")}

    def queue_html(request: Request, filters: dict, status: int = 200, error: str | None = None,
                   message: str | None = None) -> HTMLResponse:
        path = served_file(ws.mapping_roots, filters["file"])
        mset = read_sssom(path)
        cands = read_sssom(candidates_for(path)) if candidates_for(path).is_file() else None
        rows = review_rows(mset, cands)
        low = float(filters["min"]) if filters["min"] else None
        high = float(filters["max"]) if filters["max"] else None
        keep = [r for r in rows
                if (low is None or (r["confidence"] is not None and r["confidence"] >= low))
                and (high is None or r["confidence"] is None or r["confidence"] <= high)
                and (not filters["predicate"] or (r["predicate_id"] or "(unmapped)") == filters["predicate"])]
        for r in keep:
            r["version"] = subject_version(mset, r["subject_id"])
        predicates = sorted({r["predicate_id"] or "(unmapped)" for r in rows})
        files = [rel for _, rel in mapping_files(ws.mapping_roots)]
        html = ws.pages().render("review.html", "/", app=context(request), filters=filters, rows=keep[:QUEUE_PAGE],
                                 total=len(rows), shown=len(keep), files=files, predicates=predicates,
                                 choices=PREDICATES, reviewer=reviewer_of(request) or "",
                                 back=urlencode(filters), error=error, message=message)
        return HTMLResponse(html, status)

    async def review_queue(request: Request):
        filters = queue_filters(request.query_params)
        try:
            done = request.query_params.get("done")
            return queue_html(request, filters, message=f"Saved: {done}." if done else None)
        except (ServeError, SSSOMError, ValueError) as exc:
            return refused(request, exc, 403 if str(exc).startswith("refused") else 400)

    async def set_reviewer(request: Request):
        try:
            form = await checked_form(request)
            filters = queue_filters(form)
            served_file(ws.mapping_roots, filters["file"])
        except ServeError as exc:
            return refused(request, exc, 403)
        who = str(form.get("reviewer", "")).strip()
        if ":" not in who:
            return queue_html(request, filters, 422, error="refused: a reviewer id is a CURIE such as orcid:0000-0002-1825-0097")
        response = RedirectResponse(f"/review/queue?{urlencode(filters)}", 303)
        response.set_cookie(REVIEWER_COOKIE, who, httponly=True, samesite="strict")
        return response

    async def decide(request: Request):
        try:
            form = await checked_form(request)
            filters = queue_filters(form)
            path = served_file(ws.mapping_roots, filters["file"])
        except ServeError as exc:
            return refused(request, exc, 403)
        subject, action = str(form.get("subject_id", "")), str(form.get("action", ""))
        reviewer = reviewer_of(request)
        if not reviewer:
            return queue_html(request, filters, 422, error="refused: set your reviewer id first (top of this page)")
        if action not in REVIEW_ACTIONS:
            return queue_html(request, filters, 400, error=f"refused: unknown action {action!r}")
        with ws.lock:
            mset = read_sssom(path)
            if subject_version(mset, subject) != form.get("version"):
                return queue_html(request, filters, 409, error=(
                    f"conflict: the rows of {subject} changed since you opened this page (decided in another "
                    "tab?). Nothing was written; the queue below is current."))
            onto = ws.ontology()
            try:
                target = pick_target(onto, form) if action == "pick" else None
                decision = Decision(subject, action, target, str(form.get("predicate", "")) or None,
                                    str(form.get("comment", "")).strip() or None)
                cands = read_sssom(candidates_for(path)) if candidates_for(path).is_file() else None
                labels = {c.id: c.label for c in onto}
                # the app reviews alignments onto UTS (a pick is one of its concepts): an accepted
                # object must be one too, or map apply refuses the whole file later
                uts = ws.derived("label_set", from_ontology) if action == "accept" else None
                write_sssom(path, apply_decisions(mset, [decision], reviewer, cands, labels, target=uts))
            except (ReviewError, ServeError) as exc:
                return queue_html(request, filters, 422, error=f"refused: {exc}")
        return RedirectResponse(f"/review/queue?{urlencode({**filters, 'done': f'{action} {subject}'})}", 303)

    routes = [
        Route("/", home), Route("/index.html", home), Route("/tree.html", tree), Route("/concepts.html", az),
        Route("/search.html", search_page), Route("/assets/search-index.js", index_js),
        Route("/c/{name}.html", concept), Route("/edit", edit, methods=["POST"]), Route("/changes", changes),
        Route("/review", review_index), Route("/review/queue", review_queue),
        Route("/review/reviewer", set_reviewer, methods=["POST"]), Route("/review/decide", decide, methods=["POST"]),
        Mount("/assets", StaticFiles(directory=STATIC_DIR), name="assets"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or LOCAL_HOSTS),
                  Middleware(Guard, token=token)]
    return Starlette(routes=routes, middleware=middleware)


def edit_op(name: str, cid: str, form) -> dict:
    """The edit operation (as ``uts ontology apply`` takes it) a web form asks for."""
    text = {k: str(form.get(k, "")).strip() for k in ("synonym", "label", "to", "from", "replaced_by",
                                                       "reparent_to", "reason")}
    if name == "add_synonym":
        return {"op": name, "id": cid, "synonym": text["synonym"]}
    if name == "relabel":
        return {"op": name, "id": cid, "label": text["label"]}
    if name == "move":
        return {"op": name, "id": cid, "to": [text["to"]], **({"from": text["from"]} if text["from"] else {})}
    op = {"op": "deprecate", "id": cid, "replaced_by": [text["replaced_by"]] if text["replaced_by"] else []}
    if text["reparent_to"]:
        op["reparent_to"] = text["reparent_to"] if text["reparent_to"] == "parents" else [text["reparent_to"]]
    if text["reason"]:
        op["reason"] = text["reason"]
    return op


def pick_target(onto: Ontology, form) -> str:
    """The target a reviewer picked: a listed candidate's id, or what they typed (a UTS id or
    label) resolved by the ontology's resolver; refused unless exactly one concept answers."""
    candidate = str(form.get("object_id", "")).strip()
    if candidate:  # one of the listed candidates: taken as it is (the target need not be UTS)
        return candidate
    chosen = str(form.get("pick_text", "")).strip()
    if not chosen:
        raise ServeError("pick needs a candidate or a concept id or label")
    matches = resolve(onto, chosen)
    if len(matches) != 1:
        found = ", ".join(f"{m.id} ({m.label})" for m in matches) or "nothing"
        raise ServeError(f"{chosen!r} names {found}; give one concept id")
    return matches[0].id


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve other machines without an access token."""
    if not is_local(host) and not token:
        raise ServeError(f"binding {host} makes the app reachable from other machines; give an access "
                         "token with --token (or $UTS_SERVE_TOKEN), or bind 127.0.0.1")


def serve(ontology_path: str | Path, mapping_roots: list[Path], *, host: str = "127.0.0.1", port: int = 8000,
          token: str | None = None, editor: str | None = None, reviewer: str | None = None,
          announce=None) -> None:
    """Run the app with uvicorn until interrupted. A non-local ``host`` needs a ``token``.
    ``announce()`` is called once the ontology and mapping files have been read, before serving."""
    check_bind(host, token)
    import uvicorn  # lazy: the server only when serving; tests and the site builder do without it

    app = create_app(ontology_path, mapping_roots, token=token, editor=editor, reviewer=reviewer,
                     allowed_hosts=LOCAL_HOSTS if is_local(host) else ["*"])
    if announce is not None:
        announce()
    uvicorn.run(app, host=host, port=port, log_level="warning")
