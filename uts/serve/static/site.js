// The UTS site's only script: search over labels and synonyms, and open/close all in the tree.
// Pages are readable without it. The ranking mirrors uts/serve/search.py (which puts the
// ontology resolver's answer first, exactly as `uts ontology lookup` gives it); the browser
// tests compare the two on many queries.
(function () {
  "use strict";
  var base = document.currentScript.src.replace(/assets\/site\.js(\?.*)?$/, "");
  var index = null;
  var waiting = [];

  // -- the search index (assets/search-index.js sets window.UTS_SEARCH_INDEX; a script tag,
  //    not fetch(), so search also works on pages opened from disk) --------------------------
  function ready(callback) {
    if (index) { callback(); return; }
    waiting.push(callback);
    if (waiting.length > 1) return;
    var tag = document.createElement("script");
    tag.src = base + "assets/search-index.js";
    tag.onload = function () {
      index = prepare(window.UTS_SEARCH_INDEX);
      waiting.splice(0).forEach(function (f) { f(); });
    };
    document.head.appendChild(tag);
  }

  function prepare(data) {
    var invariant = new Set(data.invariant), partial = [];
    data.entries.forEach(function (e) {          // [text, id, 0 label | 1 synonym]
      if (!data.concepts[e[1]][1]) partial.push({text: e[0], id: e[1], kind: e[2], norm: normalize(e[0], invariant)});
    });
    partial.sort(function (a, b) {
      return a.kind - b.kind || a.text.length - b.text.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    });
    // The resolver's tables as Python built them (uts.ontology.resolve.Lexicon): exact
    // case-folded text -> [[id, 0 label | 1 synonym]], normalised key -> [id].
    return {concepts: data.concepts, invariant: invariant, exact: new Map(Object.entries(data.exact)),
            normalized: new Map(Object.entries(data.normalized)), partial: partial, minChars: data.partial_min_chars};
  }

  // -- uts.ontology.normalize.normalize_label ---------------------------------------------
  function singular(w, invariant) {
    if (w.length <= 3 || invariant.has(w)) return w;
    if (/ies$/.test(w) && w.length > 4) return w.slice(0, -3) + "y";
    if (/(sses|shes|ches|xes|zes)$/.test(w)) return w.slice(0, -2);
    if (/(ss|us|is|os)$/.test(w)) return w;
    if (/s$/.test(w)) return w.slice(0, -1);
    return w;
  }
  function normalize(text, invariant) {
    var folded = text.toLowerCase().replace(/ß/g, "ss").normalize("NFKD").replace(/\p{M}/gu, "");
    return (folded.match(/[\p{L}\p{N}]+/gu) || []).map(function (t) { return singular(t, invariant); }).join("");
  }

  // -- Ontology.lookup (the resolver, no lemma tier), then partial matches -----------------
  function currentIds(id) {
    var result = [], stack = [id], seen = new Set();
    while (stack.length) {
      var cid = stack.pop();
      if (seen.has(cid) || !index.concepts[cid]) continue;
      seen.add(cid);
      var c = index.concepts[cid];
      if (!c[1]) result.push(cid); else stack.push.apply(stack, c[2].slice().reverse());
    }
    return result;
  }
  function matches(hits) {
    var out = [], seen = new Set();
    hits.forEach(function (h) {
      var c = index.concepts[h[0]];
      if (c[1]) {
        currentIds(h[0]).forEach(function (rid) {
          if (!seen.has(rid)) { seen.add(rid); out.push({id: rid, label: index.concepts[rid][0], matched_by: "replaced"}); }
        });
      } else if (!seen.has(h[0])) {
        seen.add(h[0]);
        out.push({id: h[0], label: c[0], matched_by: h[1]});
      }
    });
    var direct = out.filter(function (m) { return m.matched_by !== "replaced"; });
    return direct.length ? direct : out;
  }
  function lookup(text) {
    var q = text.trim();
    if (index.concepts[q]) return matches([[q, "id"]]);
    var hits = index.exact.get(q.toLowerCase().replace(/ß/g, "ss"));  // str.casefold, near enough
    if (hits) return matches(hits.map(function (h) { return [h[0], h[1] ? "synonym" : "label"]; }));
    var ids = index.normalized.get(normalize(q, index.invariant));
    if (ids) return matches(ids.map(function (i) { return [i, "normalized"]; }));
    return [];
  }
  function search(text, limit) {
    limit = limit || 30;
    var hits = lookup(text).map(function (m) { m.text = text.trim(); return m; });
    var seen = new Set(hits.map(function (h) { return h.id; }));
    var key = normalize(text, index.invariant);
    if (key.length >= index.minChars) {
      [["prefix", function (n) { return n.startsWith(key); }], ["contains", function (n) { return n.indexOf(key) >= 0; }]]
        .forEach(function (rule) {
          index.partial.forEach(function (e) {
            if (!seen.has(e.id) && rule[1](e.norm)) {
              seen.add(e.id);
              hits.push({id: e.id, label: index.concepts[e.id][0], matched_by: rule[0], text: e.text});
            }
          });
        });
    }
    return hits.slice(0, limit);
  }

  // -- the page ----------------------------------------------------------------------------
  function item(h) {
    var li = document.createElement("li"), a = document.createElement("a"), note = document.createElement("span");
    a.href = base + "c/" + h.id.replace(":", "_") + ".html";
    a.textContent = h.label;
    note.className = "muted";
    var shown = h.text !== h.label && h.matched_by !== "replaced" ? " “" + h.text + "”" : "";
    note.textContent = " " + h.id + " · " + h.matched_by + shown;
    li.appendChild(a);
    li.appendChild(note);
    return li;
  }
  function show(list, hits) {
    list.textContent = "";
    hits.forEach(function (h) { list.appendChild(item(h)); });
  }

  var box = document.getElementById("q"), suggestions = document.getElementById("suggestions");
  if (box && suggestions) {
    box.addEventListener("input", function () {
      var text = box.value;
      if (!text.trim()) { suggestions.hidden = true; return; }
      ready(function () {
        if (box.value !== text) return;  // typed on meanwhile
        var hits = search(text, 10);
        show(suggestions, hits);
        suggestions.hidden = hits.length === 0;
      });
    });
    box.addEventListener("keydown", function (e) { if (e.key === "Escape") suggestions.hidden = true; });
  }
  var results = document.getElementById("results");
  if (results && results.dataset.live) {
    var q = new URLSearchParams(location.search).get("q") || "";
    if (box) box.value = q;
    if (q.trim()) {
      ready(function () {
        var hits = search(q);
        show(results, hits);
        document.getElementById("result-count").textContent =
          hits.length + (hits.length === 1 ? " result" : " results") + " for “" + q + "”";
      });
    }
  }
  function toggleAll(open) {
    document.querySelectorAll("#tree details").forEach(function (d) { d.open = open; });
  }
  ["expand-all", "collapse-all"].forEach(function (id, i) {
    var button = document.getElementById(id);
    if (button) { button.hidden = false; button.addEventListener("click", function () { toggleAll(i === 0); }); }
  });

  window.UTSSearch = {ready: ready, search: function (t, n) { return search(t, n); },
                      normalize: function (t) { return normalize(t, index.invariant); }};
})();
