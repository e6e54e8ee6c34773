"""LLM tagging through an OpenAI-compatible server: a fake one on 127.0.0.1 (tests/fake_llm_server.py)
that times out, answers 500, answers slowly, sends broken JSON and worded answers; bounded
concurrency; resume after ``kill -9`` with nothing lost or duplicated; the vLLM offline plumbing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from fake_llm_server import MODEL, FakeLLM, expected_tags
from test_vocab_support import read_jsonl, write_jsonl
from typer.testing import CliRunner

from uts.cli.main import app
from uts.vocab.extract import run_extraction
from uts.vocab.io import VocabError
from uts.vocab.llm import LLMExtractor
from uts.vocab.serving import OpenAIGenerator, ServingError, VLLMGenerator, make_generator

UTS = str(Path(sys.executable).with_name("uts"))


@pytest.fixture
def server():
    with FakeLLM(hang=1.5, slow=0.2) as srv:
        yield srv


def _generator(server, **kw):
    kw = {"concurrency": 4, "timeout": 0.5, "backoff": 0.01, "max_retries": 3, **kw}
    return OpenAIGenerator(server.url, MODEL, **kw)


def test_every_injected_failure_is_retried_or_recorded(server):
    captions = ["dog barking @500", "rain on roof @timeout", "piano @slow", "siren @garbled",
                "wind @prose", "engine @always500", "speech @toolong", "plain birdsong"]
    gen = _generator(server)
    records = LLMExtractor(gen, retries=1).extract(captions)
    by = dict(zip(captions, records))
    for ok in ("dog barking @500", "rain on roof @timeout", "piano @slow", "siren @garbled", "plain birdsong"):
        assert by[ok] == {"tags": expected_tags(ok), "concept_ids": [[] for _ in expected_tags(ok)]}, ok
    # A worded answer is re-asked with sampling (the server answers JSON then).
    assert by["wind @prose"]["tags"] == ["wind", "prose"]
    assert server.requests["wind @prose"] == 2
    # 5xx for ever: retried, then recorded as this clip's failure; the run goes on.
    assert by["engine @always500"]["tags"] == [] and "gave up after 4 requests" in by["engine @always500"]["error"]
    assert "HTTP 503" in by["engine @always500"]["error"]
    # A 400 is not retried at transport level (it would fail the same way).
    assert "context" in by["speech @toolong"]["error"]
    assert server.requests["dog barking @500"] == 3  # two 500s, then the answer
    assert server.requests["rain on roof @timeout"] == 2  # abandoned after 0.5 s, asked again
    assert server.requests["siren @garbled"] == 2
    assert gen.retried >= 2 + 1 + 1 + 3 * 2


def test_concurrency_is_bounded_and_order_is_the_input_order(server):
    server.delay = 0.05
    captions = [f"clip number {w} @slow" for w in "abcdefghijkl"]
    gen = _generator(server, concurrency=3)
    answers = gen([f"Description: {c}\nAnswer:" for c in captions], 0)
    assert [json.loads(a)["tags"] for a in answers] == [expected_tags(c) for c in captions]
    assert server.max_in_flight == 3


def test_configuration_mistakes_stop_at_once_in_one_line(server):
    with pytest.raises(ServingError, match="does not serve model 'nope'.*fake-qwen"):
        OpenAIGenerator(server.url, "nope")
    with pytest.raises(ServingError, match="cannot reach the LLM server"):
        OpenAIGenerator("http://127.0.0.1:9/v1", MODEL, timeout=0.5)
    with pytest.raises(ServingError, match="not an http"):
        OpenAIGenerator("localhost:8000", MODEL)
    # A model the listing did not catch (no check): the 404 on the first request stops the run
    # instead of recording every clip as failed.
    gen = OpenAIGenerator(server.url, "nope", check=False, timeout=0.5)
    with pytest.raises(ServingError, match="does not exist"):
        LLMExtractor(gen).extract(["dog"])
    assert _generator(server).root == OpenAIGenerator(server.url.removesuffix("/v1"), MODEL).root


def test_make_generator_checks_its_options(server):
    with pytest.raises(VocabError, match="needs --base-url"):
        make_generator("openai", MODEL)
    with pytest.raises(VocabError, match="needs --model NAME"):
        make_generator("openai", None, base_url=server.url)
    with pytest.raises(VocabError, match="unknown backend"):
        make_generator("ollama", MODEL)
    with pytest.raises(VocabError, match="--base-url is for --backend openai"):
        make_generator("transformers", "/models/x", base_url=server.url)
    assert isinstance(make_generator("openai", MODEL, base_url=server.url), OpenAIGenerator)


def test_cli_openai_backend(tmp_path, server):
    captions = write_jsonl(tmp_path / "c.jsonl", [{"id": f"c{i}", "caption": c} for i, c in
                                                  enumerate(["dog barking @500", "rain @toolong", "piano"])])
    out = tmp_path / "tags.jsonl"
    args = ["vocab", "extract", str(captions), "--out", str(out), "--backend", "openai", "--base-url", server.url,
            "--model", MODEL, "--ontology", "none", "--timeout", "0.5"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "2 clips tagged, 1 failed (0 already done)" in res.output
    assert [r["tags"] for r in read_jsonl(out)] == [["dog", "barking"], [], ["piano"]]
    res = CliRunner().invoke(app, [*args[:-4], "--model", "other"])
    assert res.exit_code == 1 and "does not serve model 'other'" in res.output and "Traceback" not in res.output


def test_kill_9_mid_run_then_resume_loses_and_duplicates_nothing(tmp_path):
    n = 48
    caption = {f"clip{i:03d}": f"sound number {i} {w}" for i, w in zip(range(n), ["dog", "rain", "bell", "car"] * n)}
    captions = write_jsonl(tmp_path / "c.jsonl", [{"id": k, "caption": c} for k, c in caption.items()])
    with FakeLLM(delay=0.05) as srv:
        cmd = [UTS, "vocab", "extract", str(captions), "--backend", "openai", "--base-url", srv.url, "--model",
               MODEL, "--ontology", "none", "--batch-size", "4", "--concurrency", "2"]
        reference = tmp_path / "uninterrupted.jsonl"
        subprocess.run([*cmd, "--out", str(reference)], check=True, capture_output=True)
        out = tmp_path / "tags.jsonl"
        proc = subprocess.Popen([*cmd, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 12):
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        partial = [json.loads(line)["id"] for line in out.read_text().splitlines()]
        assert 12 <= len(partial) < n  # killed mid-run, with whole batches written
        asked = dict(srv.requests)
        done = subprocess.run([*cmd, "--out", str(out)], check=True, capture_output=True, text=True)
    assert f"{n - len(partial)} clips tagged, 0 failed ({len(partial)} already done)" in done.stdout
    # Nothing lost, nothing twice, same order and bytes as a run that was never interrupted.
    assert out.read_bytes() == reference.read_bytes()
    assert [r["id"] for r in read_jsonl(out)] == list(caption)
    # The clips already written were not asked again; all the others were.
    assert all(srv.requests[caption[k]] == asked[caption[k]] for k in partial)
    assert all(srv.requests[caption[k]] > asked[caption[k]] for k in caption if k not in partial)


def test_resume_puts_records_back_in_input_order(tmp_path):
    class Echo:
        def extract(self, captions):
            return [{"tags": [c], "concept_ids": [[]]} for c in captions]

    items = [(f"id{i}", f"c{i}") for i in range(6)]
    out = tmp_path / "t.jsonl"
    run_extraction(items[2:4], Echo(), out, progress=False)  # an earlier run got the middle done
    run_extraction(items, Echo(), out, batch_size=4, progress=False)
    assert [r["id"] for r in read_jsonl(out)] == [i for i, _ in items]


def test_vllm_backend_without_vllm_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # as on a machine without the extra
    with pytest.raises(VocabError, match=r"pip install 'uts\[vllm\]'"):
        VLLMGenerator("/models/Qwen2.5-7B-Instruct")


def test_vllm_generator_plumbing_with_a_stand_in_module(monkeypatch):
    """vLLM itself never ran here (no GPU); this checks what we hand it and read back."""
    calls = []

    class LLM:
        def __init__(self, model, **kw):
            calls.append(("init", model, kw))

        def chat(self, conversations, params, use_tqdm):
            calls.append(("chat", conversations, params))
            out = types.SimpleNamespace
            return [out(outputs=[out(text=json.dumps({"tags": [c[0]["content"]]}))]) for c in conversations]

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM, SamplingParams=lambda **kw: kw))
    gen = VLLMGenerator("/models/q", max_new_tokens=32, tensor_parallel_size=2)
    assert gen(["a", "b"], 0) == ['{"tags": ["a"]}', '{"tags": ["b"]}']
    gen(["a"], 1)
    assert calls[0] == ("init", "/models/q", {"tensor_parallel_size": 2})
    assert calls[1][1] == [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]]
    assert calls[1][2] == {"max_tokens": 32, "seed": None, "temperature": 0.0}
    assert calls[2][2] == {"max_tokens": 32, "seed": 1, "temperature": 0.7}


def test_a_run_where_every_clip_failed_is_an_error_and_keeps_the_records(server, tmp_path):
    """Every answer failing exited 0 ("2 clips tagged ... 2 failed"), so `extract && build` went on
    with nothing. The records stay, for --retry-failed."""
    out = tmp_path / "tags.jsonl"
    items = [("a", "engine @always500"), ("b", "motor @always500")]
    with pytest.raises(VocabError, match=rf"{out}: all 2 clips failed \(first: .*HTTP 503.*--retry-failed"):
        run_extraction(items, LLMExtractor(_generator(server), retries=0), out, progress=False)
    assert [r["id"] for r in read_jsonl(out)] == ["a", "b"] and all(r["error"] for r in read_jsonl(out))
