"""The paper's tag extraction by a local causal language model, made robust.

The model only ever answers text; everything that can go wrong with that text is handled here:
answers wrapped in code fences or prose, Python-style quotes, trailing commas, no JSON at all.
An unparsable answer is asked again (sampling, so the retry can differ) and, if it still fails,
recorded as a failure for that clip — extraction never stops on a bad answer.

The model is any transformers causal LM in a local directory (nothing is downloaded); it runs on
the GPU when one is present. The generator is a plain callable, so tests and other back ends
(:mod:`.serving`: an OpenAI-compatible server, vLLM's offline engine) can stand in for it. A
generator may answer an exception in place of one prompt's text; that clip alone is retried and
then recorded as failed. A :class:`~.io.VocabError` from it stops the run (every clip would fail).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from uts.ontology.model import Ontology
from uts.ontology.resolve import Resolver

from .io import VocabError

# The rules of the paper's step 2 (arXiv 2603.25767), as an instruction.
PROMPT = """You extract tags from a description of an audio clip.
Rules:
- Give about 10 tags. Each tag is one lowercase English word.
- Cover five aspects where the description allows: the scene or environment; the sound sources;
  the sound types or events; audio and production traits (quality, effects, mixing); the semantic
  function or intent of the audio.
- Collapse synonyms into one tag and do not repeat tags.
- Use only what the description says.
Answer with JSON only, exactly in this form: {{"tags": ["tag1", "tag2", ...]}}

Description: {caption}
Answer:"""

Generate = Callable[[list[str], int], list[str]]  # (prompts, attempt) -> answers


class TagParseError(ValueError):
    """An answer holds no usable list of tags."""


_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([\]}])")


def _candidates(text: str) -> list[str]:
    """Texts worth decoding: fenced blocks first, then the whole answer."""
    return [m.group(1) for m in _FENCE.finditer(text)] + [text]


def _decode_first(text: str):
    """The first JSON value (object or array) anywhere in ``text``, with light repairs."""
    decoder = json.JSONDecoder()
    for variant in (text, _TRAILING_COMMA.sub(r"\1", text), _TRAILING_COMMA.sub(r"\1", text.replace("'", '"'))):
        for start, ch in enumerate(variant):
            if ch in "{[":
                try:
                    value, _ = decoder.raw_decode(variant, start)
                except json.JSONDecodeError:
                    continue
                if isinstance(value, dict) and isinstance(value.get("tags"), list) or isinstance(value, list):
                    return value
    raise TagParseError("no JSON list of tags in the answer")


def clean_tag(tag: str) -> str:
    """Lowercase, trimmed, inner whitespace collapsed; surrounding punctuation removed."""
    return " ".join(tag.lower().split()).strip(" .,;:!?\"'`#*-")


def parse_answer(text: str) -> list[str]:
    """The tags in a model's answer: ``{"tags": [...]}`` or a bare list, possibly fenced or
    wrapped in prose; non-string items are ignored, duplicates removed, order kept."""
    if not isinstance(text, str) or not text.strip():
        raise TagParseError("empty answer")
    last: TagParseError | None = None
    for candidate in _candidates(text):
        try:
            value = _decode_first(candidate)
        except TagParseError as exc:
            last = exc
            continue
        items = value["tags"] if isinstance(value, dict) else value
        tags = list(dict.fromkeys(t for t in (clean_tag(i) for i in items if isinstance(i, str)) if t))
        if tags:
            return tags
        last = TagParseError("the answer's tag list is empty")
    raise last or TagParseError("no tags")


class LLMExtractor:
    """Prompt, parse, retry, resolve. ``generate(prompts, attempt)`` returns one answer per
    prompt; ``attempt`` > 0 marks a retry (a real model samples then, so it can answer differently)."""

    def __init__(self, generate: Generate, onto: Ontology | None = None, retries: int = 2,
                 prompt: str = PROMPT, matcher=None):
        self.generate = generate
        self.resolver = Resolver(onto) if onto is not None else None
        self.matcher = matcher  # optional EmbeddingMatcher for tags no label or synonym names
        self.retries = retries
        self.prompt = prompt

    def _ask(self, prompts: list[str], attempt: int) -> list[str | Exception]:
        try:
            answers = list(self.generate(prompts, attempt))
            if len(answers) != len(prompts):
                raise RuntimeError(f"generator returned {len(answers)} answers for {len(prompts)} prompts")
            return answers
        except VocabError:  # a configuration mistake (e.g. a server that does not serve the model)
            raise
        except Exception as exc:  # noqa: BLE001 - a failing batch is recorded, never fatal
            return [exc] * len(prompts)

    def extract(self, captions: Sequence[str]) -> list[dict]:
        prompts = [self.prompt.format(caption=c) for c in captions]
        results: list[dict | None] = [None] * len(captions)
        errors: list[str] = [""] * len(captions)
        pending = list(range(len(captions)))
        for attempt in range(self.retries + 1):
            if not pending:
                break
            answers = self._ask([prompts[i] for i in pending], attempt)
            still = []
            for i, answer in zip(pending, answers):
                try:
                    if isinstance(answer, Exception):
                        raise TagParseError(f"generation failed: {answer}")
                    tags = parse_answer(answer)
                except TagParseError as exc:
                    snippet = answer if isinstance(answer, str) else ""
                    errors[i] = f"{exc}: {snippet[:200]!r}" if snippet else str(exc)
                    still.append(i)
                    continue
                ids = [list(self.resolver.ids(t)) if self.resolver else [] for t in tags]
                results[i] = {"tags": tags, "concept_ids": ids}
            pending = still
        if self.matcher is not None:
            self._embed_unresolved([r for r in results if r is not None])
        for i in pending:
            results[i] = {"tags": [], "concept_ids": [], "error": errors[i]}
        return results


    def _embed_unresolved(self, records: list[dict]) -> None:
        """Resolve, batch-wise, the tags lexical matching left over by embedding similarity."""
        todo = [t for r in records for t, ids in zip(r["tags"], r["concept_ids"]) if not ids]
        hits = self.matcher.match(todo) if todo else {}
        for r in records:
            r["concept_ids"] = [ids or ([hits[t][0]] if hits.get(t) else []) for t, ids in zip(r["tags"], r["concept_ids"])]


class TransformersGenerator:
    """Batched greedy generation with a local transformers causal LM (sampling on retries).

    Uses the tokenizer's chat template when it has one (instruction-tuned models), the plain
    prompt otherwise; pads on the left so a batch of prompts generates together.
    """

    def __init__(self, model_path: str | Path, device: str | None = None, max_new_tokens: int = 96,
                 temperature: float = 0.7):
        path = Path(model_path).expanduser()
        if not (path / "config.json").is_file():
            raise VocabError(f"{path} is not a local transformers model directory (no config.json); "
                             "models are never downloaded")
        # lazy: torch and transformers cost seconds at import; only the local LLM backend needs them
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
        except (OSError, ValueError) as exc:
            raise VocabError(f"cannot load the language model in {path}: {exc}") from None
        self.model.to(self.device).eval()
        tok = self.tokenizer
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token or tok.unk_token
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        limit = getattr(self.model.config, "max_position_embeddings", None) or getattr(
            self.model.config, "n_positions", None) or 4096
        self.max_prompt_tokens = max(16, limit - max_new_tokens)

    def _text(self, prompt: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
        return prompt

    def __call__(self, prompts: list[str], attempt: int = 0) -> list[str]:
        import torch  # lazy: as in __init__

        batch = self.tokenizer([self._text(p) for p in prompts], return_tensors="pt", padding=True,
                               truncation=True, max_length=self.max_prompt_tokens).to(self.device)
        sampling = attempt > 0
        with torch.inference_mode():
            out = self.model.generate(
                **batch, max_new_tokens=self.max_new_tokens, do_sample=sampling,
                temperature=self.temperature if sampling else None, top_p=None, top_k=None,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new = out[:, batch["input_ids"].shape[1]:]
        return self.tokenizer.batch_decode(new, skip_special_tokens=True)
