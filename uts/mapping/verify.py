"""Optional verifier stage (off by default): a language model confirms or rejects candidates.

After matching, each label's top-``k`` candidates are shown to a verifier with the set's stated
context and each candidate's definition (OLaLa / LogMap-LLM style). A decided mapping the
verifier rejects gives way to the best confirmed candidate above the threshold, or becomes an
abstention; one it confirms is kept, and the row's comment says so. Two back ends:

- :class:`OpenAIVerifier`: any OpenAI-compatible chat-completions endpoint (``--verify
  http://localhost:8000/v1 --verify-model NAME``; key from ``$OPENAI_API_KEY`` if set), via
  ``httpx``. One request per label.
- :class:`TransformersVerifier`: a local causal language model directory (``--verify
  /models/qwen``): for each candidate, the probability of "yes" against "no" as the next token.

Neither is shipped or run in the tests with a real model: the tests drive the plumbing with a
stand-in (an ``httpx.MockTransport`` endpoint and a stub object). :class:`VerifyStats` counts
requests, tokens and seconds so the cost per label can be reported.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .match import MatchResult

PROMPT = (
    "You map the labels of an audio dataset onto concepts of a sound ontology.\n"
    "{context}Source label: {label!r}{description}\n"
    "Candidate concepts:\n{candidates}\n"
    "Which candidates mean what this label means in this dataset? Reply with JSON only, "
    'for example {{"yes": [1, 3]}}; {{"yes": []}} when none does.'
)


class Verifier(Protocol):
    def judge(self, label: str, description: str | None, context: str | None,
              candidates: list[tuple[str, str | None]], stats: VerifyStats) -> list[float]:
        """Probability that each (label, definition) candidate is right."""


@dataclass
class VerifyStats:
    labels: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    changed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        n = max(self.labels, 1)
        return (f"verifier: {self.labels} labels, {self.requests} requests, "
                f"{self.prompt_tokens / n:.0f} prompt + {self.completion_tokens / n:.0f} completion tokens "
                f"and {self.seconds / n:.2f} s per label; {len(self.changed)} decisions changed")


def _prompt(label: str, description: str | None, context: str | None, candidates) -> str:
    lines = "\n".join(f"{i + 1}. {name}" + (f": {definition[:200]}" if definition else "")
                      for i, (name, definition) in enumerate(candidates))
    return PROMPT.format(context=f"The dataset's labels are: {context}.\n" if context else "", label=label,
                         description=f" ({description})" if description else "", candidates=lines)


def parse_yes(text: str, n: int) -> list[float]:
    """1.0 for every candidate number listed under "yes" in the reply, else 0.0."""
    match = re.search(r"\{.*\}", text, re.S)
    try:
        picked = json.loads(match.group(0))["yes"]
    except (AttributeError, ValueError, KeyError, TypeError):
        raise ValueError(f"verifier reply is not the JSON asked for: {text[:120]!r}") from None
    return [1.0 if (i + 1) in picked else 0.0 for i in range(n)]


class OpenAIVerifier:
    """An OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp server, OpenAI ...)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0,
                 transport=None):
        import httpx  # lazy: ~0.2 s at import; only --verify with an endpoint needs it

        if not model:
            raise ValueError("--verify with an endpoint needs --verify-model (the model name the server serves)")
        key = api_key or os.environ.get("OPENAI_API_KEY")
        self.model, self.url = model, base_url.rstrip("/")
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport,
                                   headers={"Authorization": f"Bearer {key}"} if key else {})

    def judge(self, label, description, context, candidates, stats):
        body = {"model": self.model, "temperature": 0,
                "messages": [{"role": "user", "content": _prompt(label, description, context, candidates)}]}
        try:
            response = self.client.post("/chat/completions", json=body)
            response.raise_for_status()
            data = response.json()
            text = data["choices"][0]["message"]["content"]
        except Exception as exc:  # noqa: BLE001 - network, HTTP and shape errors: one clear line
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise RuntimeError(f"verifier request to {self.url} failed: {first}") from None
        usage = data.get("usage") or {}
        stats.requests += 1
        stats.prompt_tokens += int(usage.get("prompt_tokens", 0))
        stats.completion_tokens += int(usage.get("completion_tokens", 0))
        return parse_yes(text, len(candidates))


class TransformersVerifier:
    """A local causal language model: P("yes") against P("no") for each candidate."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if not (path / "config.json").is_file():
            raise ValueError(f"{path}: not a local transformers model directory (no config.json)")
        from transformers import AutoModelForCausalLM, AutoTokenizer  # lazy: transformers costs ~2 s at import

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(path)
        self.model.eval()
        self.yes = self.tokenizer(" yes", add_special_tokens=False).input_ids[-1]
        self.no = self.tokenizer(" no", add_special_tokens=False).input_ids[-1]

    def judge(self, label, description, context, candidates, stats):
        import torch  # lazy: torch costs ~1-3 s at import; only a local model needs it

        out = []
        for name, definition in candidates:
            prompt = (_prompt(label, description, context, [(name, definition)]).rsplit("\n", 1)[0]
                      + "\nDoes candidate 1 mean what the label means here? Answer yes or no. Answer:")
            ids = self.tokenizer(prompt, return_tensors="pt").input_ids
            with torch.no_grad():
                logits = self.model(ids).logits[0, -1]
            pair = torch.softmax(logits[[self.yes, self.no]], dim=0)
            out.append(float(pair[0]))
            stats.requests += 1
            stats.prompt_tokens += int(ids.shape[1])
            stats.completion_tokens += 1
        return out


def load_verifier(spec: str, model: str | None = None) -> Verifier:
    """``http(s)://...`` -> :class:`OpenAIVerifier`; a directory -> :class:`TransformersVerifier`."""
    if spec.startswith(("http://", "https://")):
        return OpenAIVerifier(spec, model or "")
    return TransformersVerifier(spec)


def verify(results: list[MatchResult], verifier: Verifier, target, accept: float, k: int = 3,
           context: str | None = None, stats: VerifyStats | None = None) -> VerifyStats:
    """Ask ``verifier`` about each label's top-``k`` candidates and settle again (in place)."""
    stats = stats or VerifyStats()
    for r in results:
        shown = r.candidates[:k]
        if not shown:
            continue
        t0 = time.perf_counter()
        verdict = verifier.judge(r.subject.label, r.subject.description, context,
                                 [(c.object_label, target.get(c.object_id).description) for c in shown], stats)
        stats.seconds += time.perf_counter() - t0
        stats.labels += 1
        before = r.decided
        confirmed = [c for c, v in zip(shown, verdict) if v >= 0.5 and c.probability >= accept]
        if before is not None and before in confirmed:
            r.comment = "; ".join(x for x in (r.comment, "verifier confirmed") if x)
            continue
        names = ", ".join(c.object_label for c, v in zip(shown, verdict) if v < 0.5) or "none"
        if confirmed:
            r.decided, r.reason = confirmed[0], None
            r.comment = "; ".join(x for x in (r.comment, f"verifier picked this; rejected: {names}") if x)
        elif before is not None:
            r.decided, r.reason = None, f"verifier rejected the candidates shown ({names})"
        else:
            continue
        stats.changed.append(r.subject.id)
    return stats
