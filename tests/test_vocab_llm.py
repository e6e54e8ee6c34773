"""LLM tag extraction: answer parsing, retries and recorded failures with a fake generator; the
real transformers path with a tiny randomly initialised model built here (no download)."""

from __future__ import annotations

import pytest
from test_vocab_support import read_jsonl, small_ontology, write_jsonl, write_ontology
from typer.testing import CliRunner

from uts.cli.main import app
from uts.vocab.extract import run_extraction
from uts.vocab.io import VocabError
from uts.vocab.llm import PROMPT, LLMExtractor, TagParseError, TransformersGenerator, parse_answer


@pytest.mark.parametrize("answer,tags", [
    ('{"tags": ["rain", "thunder", "outdoor"]}', ["rain", "thunder", "outdoor"]),
    ('```json\n{"tags": ["Dog", "bark"]}\n```', ["dog", "bark"]),
    ('Sure! Here are the tags:\n{"tags": ["piano", "calm"]}\nHope this helps.', ["piano", "calm"]),
    ('["engine", "car", "engine"]', ["engine", "car"]),
    ("{'tags': ['siren', 'street',]}", ["siren", "street"]),
    ('{"tags": ["  Male ", 42, null, "speech."]}', ["male", "speech"]),
    ('text {"note": 1} then {"tags": ["wind"]}', ["wind"]),
])
def test_parse_answer_accepts_messy_but_meaningful_answers(answer, tags):
    assert parse_answer(answer) == tags


@pytest.mark.parametrize("answer", ["", "no json here", '{"tags": "rain"}', '{"tags": []}', '{"tags": [1, 2]}',
                                    '{"tags": ["rain"'])
def test_parse_answer_rejects_answers_without_tags(answer):
    with pytest.raises(TagParseError):
        parse_answer(answer)


class Canned:
    """A generator answering from a script: {caption word: [answer for attempt 0, 1, ...]}."""

    def __init__(self, script):
        self.script, self.calls = script, []

    def __call__(self, prompts, attempt):
        self.calls.append((len(prompts), attempt))
        out = []
        for p in prompts:
            caption = p.split("Description: ", 1)[1].split("\n", 1)[0]
            answers = self.script[caption]
            out.append(answers[min(attempt, len(answers) - 1)])
        return out


def test_llm_extractor_retries_only_failures_and_records_what_stays_broken():
    gen = Canned({
        "rain": ['{"tags": ["rain", "drums"]}'],
        "flaky": ["I cannot do that", '```\n{"tags": ["car"]}\n```'],
        "broken": ["nope", "still nope", "never"],
    })
    ex = LLMExtractor(gen, onto=small_ontology(), retries=2)
    rain, flaky, broken = ex.extract(["rain", "flaky", "broken"])
    assert rain == {"tags": ["rain", "drums"], "concept_ids": [["UTS:0000035"], ["UTS:0000021"]]}
    assert flaky["tags"] == ["car"] and flaky["concept_ids"] == [["UTS:0000031"]]
    assert broken["tags"] == [] and "never" in broken["error"]
    assert gen.calls == [(3, 0), (2, 1), (1, 2)]  # only the unparsed prompts are asked again


def test_tags_no_label_names_can_resolve_by_embedding():
    class Near:  # stands in for EmbeddingMatcher.match
        def __init__(self):
            self.asked = []

        def match(self, phrases):
            self.asked.extend(phrases)
            return {p: ("UTS:0000031", 0.9) if p == "automobile" else None for p in phrases}

    near = Near()
    ex = LLMExtractor(Canned({"x": ['{"tags": ["rain", "automobile", "zzz"]}']}), onto=small_ontology(), matcher=near)
    (rec,) = ex.extract(["x"])
    assert rec["concept_ids"] == [["UTS:0000035"], ["UTS:0000031"], []]
    assert near.asked == ["automobile", "zzz"]  # only what lexical matching left over


def test_generator_exceptions_are_recorded_not_raised():
    def explode(prompts, attempt):
        raise RuntimeError("CUDA out of memory")

    records = LLMExtractor(explode, retries=1).extract(["a", "b"])
    assert all(r["tags"] == [] and "CUDA out of memory" in r["error"] for r in records)


def test_failures_are_kept_on_resume_and_redone_with_retry_failed(tmp_path):
    out = tmp_path / "tags.jsonl"
    items = [("1", "rain"), ("2", "broken")]
    gen = Canned({"rain": ['{"tags": ["rain"]}'], "broken": ["nope"]})
    stats = run_extraction(items, LLMExtractor(gen, retries=0), out, progress=False)
    assert stats["failed"] == 1
    gen.script["broken"] = ['{"tags": ["fixed"]}']
    stats = run_extraction(items, LLMExtractor(gen, retries=0), out, progress=False)
    assert stats["written"] == 0  # a recorded failure counts as done...
    stats = run_extraction(items, LLMExtractor(gen, retries=0), out, retry_failed=True, progress=False)
    assert stats["written"] == 1 and stats["failed"] == 0  # ...until asked to retry it
    rows = {r["id"]: r for r in read_jsonl(out)}
    assert rows["2"]["tags"] == ["fixed"] and "error" not in rows["2"] and len(rows) == 2


def test_prompt_states_the_papers_rules():
    text = PROMPT.format(caption="x").lower()
    for rule in ("about 10 tags", "one lowercase", "scene", "sound sources", "production", "intent", "synonyms", "json"):
        assert rule in text


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 1-layer GPT-2 with random weights and the bundled MiniLM WordPiece tokenizer."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from uts.embedding import default_model_path

    path = tmp_path_factory.mktemp("tiny-lm")
    tok = AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)
    cfg = GPT2Config(vocab_size=tok.vocab_size, n_positions=512, n_embd=32, n_layer=1, n_head=2,
                     bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_transformers_generator_batches_with_left_padding(tiny_model):
    gen = TransformersGenerator(tiny_model, device="cpu", max_new_tokens=6)
    assert gen.tokenizer.padding_side == "left"
    answers = gen(["short", "a considerably longer prompt than the first one"], 0)
    assert len(answers) == 2 and all(isinstance(a, str) and a for a in answers)
    assert gen(["short"], 0) == gen(["short"], 0)  # greedy on the first attempt: reproducible


def test_cli_llm_extraction_with_a_random_model_records_failures(tmp_path, tiny_model):
    captions = write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "caption": "rain"}, {"id": "b", "caption": "dog"}])
    out = tmp_path / "tags.jsonl"
    res = CliRunner().invoke(app, ["vocab", "extract", str(captions), "--out", str(out), "-e", "llm",
                                   "--model", str(tiny_model), "--max-new-tokens", "4", "--retries", "1", "--no-embed",
                                   "-O", str(write_ontology(tmp_path / "o.ttl"))])
    # Random weights speak no JSON: both clips are recorded as failures, nothing crashed, and a
    # run where every clip failed is an error (a pipeline must not go on with nothing)
    assert res.exit_code == 1 and f"error: {out}: all 2 clips failed" in res.output, res.output
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["a", "b"] and all(r["error"] for r in rows)


def test_model_path_must_be_a_local_model(tmp_path):
    with pytest.raises(VocabError, match="not a local transformers model"):
        TransformersGenerator(tmp_path)
