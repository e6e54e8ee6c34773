"""The optional verifier stage, driven by stand-ins (no real language model is run here): an
OpenAI-compatible endpoint faked with httpx.MockTransport, and a stub verifier object."""

from __future__ import annotations

import json

import httpx
import pytest

from uts.mapping.labelsets import Label, LabelSet
from uts.mapping.match import Candidate, MatchResult
from uts.mapping.verify import OpenAIVerifier, VerifyStats, load_verifier, parse_yes, verify

TARGET = LabelSet("T", {
    "T:bus": Label("T:bus", "bus", description="Sounds of a bus."),
    "T:businterior": Label("T:businterior", "bus interior", description="Recorded inside a bus."),
    "T:dog": Label("T:dog", "dog"),
}, {"T": "http://example.org/t/"})


def _result(label, *cands):
    cs = [Candidate(oid, TARGET.get(oid).label, p, {"emb": 0.9}) for oid, p in cands]
    return MatchResult(Label(f"s:{label}", label), cs, decided=cs[0] if cs and cs[0].probability >= 0.5 else None)


def _endpoint(answers: dict[str, str], seen: list):
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((request.headers.get("authorization"), body))
        prompt = body["messages"][0]["content"]
        label = prompt.split("Source label: '")[1].split("'")[0]
        return httpx.Response(200, json={"choices": [{"message": {"content": answers[label]}}],
                                         "usage": {"prompt_tokens": 50, "completion_tokens": 7}})
    return httpx.MockTransport(handle)


def test_endpoint_verifier_confirms_switches_and_rejects(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    seen = []
    answers = {"bus": '{"yes": [2]}', "park": 'Sure: {"yes": [1]}', "house": '{"yes": []}'}
    v = OpenAIVerifier("http://fake/v1", "tiny", transport=_endpoint(answers, seen))
    results = [_result("bus", ("T:bus", 0.95), ("T:businterior", 0.6)),
               _result("park", ("T:bus", 0.7)),
               _result("house", ("T:dog", 0.9))]
    stats = verify(results, v, TARGET, accept=0.5, k=2, context="acoustic scenes")
    bus, park, house = results
    assert bus.decided.object_id == "T:businterior" and "verifier picked this; rejected: bus" in bus.comment
    assert park.decided.object_id == "T:bus" and park.comment == "verifier confirmed"
    assert house.decided is None and house.reason.startswith("verifier rejected")
    assert stats.labels == 3 and stats.requests == 3 and stats.prompt_tokens == 150 and len(stats.changed) == 2
    auth, body = seen[0]
    assert auth == "Bearer sk-test" and body["model"] == "tiny" and body["temperature"] == 0
    prompt = body["messages"][0]["content"]
    assert "acoustic scenes" in prompt and "2. bus interior: Recorded inside a bus." in prompt
    assert "tokens" in stats.summary() and "per label" in stats.summary()


def test_a_confirmed_candidate_below_the_threshold_is_not_taken():
    class Stub:
        def judge(self, label, description, context, candidates, stats):
            stats.requests += 1
            return [0.0, 1.0]
    r = _result("bus", ("T:bus", 0.95), ("T:businterior", 0.2))
    verify([r], Stub(), TARGET, accept=0.5)
    assert r.decided is None and "bus" in r.reason


def test_endpoint_errors_and_bad_replies_are_one_clear_line():
    failing = httpx.MockTransport(lambda request: httpx.Response(500, text="boom"))
    v = OpenAIVerifier("http://fake/v1", "tiny", transport=failing)
    with pytest.raises(RuntimeError, match="verifier request to http://fake/v1 failed"):
        verify([_result("bus", ("T:bus", 0.9))], v, TARGET, accept=0.5)
    with pytest.raises(ValueError, match="not the JSON asked for"):
        parse_yes("I think the first one", 2)
    with pytest.raises(ValueError, match="needs --verify-model"):
        load_verifier("http://localhost:8000/v1")
    with pytest.raises(ValueError, match="not a local transformers model directory"):
        load_verifier("/nonexistent/model")
