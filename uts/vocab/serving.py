"""Generators for :class:`~uts.vocab.llm.LLMExtractor` that run the language model elsewhere.

- :class:`OpenAIGenerator` talks to any OpenAI-compatible chat-completions server (vLLM's
  ``vllm serve``, llama.cpp's ``llama-server``, TGI, ...). Requests for one batch go out
  concurrently, at most ``concurrency`` at a time. A timeout, a dropped connection, a 429 or a
  5xx answer, or a reply that is not the JSON the API promises, is retried with exponential
  backoff (``Retry-After`` is honoured); a prompt that still fails becomes that clip's recorded
  failure, never the run's. Answers that the model words badly are not this module's business:
  :func:`uts.vocab.llm.parse_answer` reads them, and the extractor re-asks with sampling.
  Mistakes that would fail every request (no server at the URL, a model the server does not
  serve, a refused API key) stop the run at once with one line saying so.
- :class:`VLLMGenerator` runs vLLM's offline engine in this process (batch mode on a GPU, the
  ``vllm`` extra). **Not run here**: this machine has no GPU and vLLM is not installed; only
  its plumbing is tested, with a stand-in module.

:func:`make_generator` builds the generator for ``uts vocab extract --backend ...``.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx

from .io import VocabError
from .llm import TransformersGenerator

BACKENDS = ("transformers", "openai", "vllm")
RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ServingError(VocabError):
    """A configuration mistake every request would hit: the run stops with this message."""


class TransientError(Exception):
    """A failed request worth trying again (timeout, connection, 429/5xx, garbled reply)."""


def _api_root(base_url: str) -> str:
    """``http://host:8000`` and ``http://host:8000/v1/`` both mean ``http://host:8000/v1``."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ServingError(f"--base-url {base_url!r} is not an http(s) URL (e.g. http://localhost:8000/v1)")
    return url if parts.path else url + "/v1"


class OpenAIGenerator:
    """``(prompts, attempt) -> answers`` through ``POST {base_url}/chat/completions``.

    Attempt 0 is greedy (temperature 0), later attempts sample at ``temperature`` with the attempt
    as seed, so a re-asked prompt can answer differently yet reproducibly. An answer is the
    message text, or the exception that ended its retries (the extractor records it).
    """

    def __init__(self, base_url: str, model: str, api_key: str | None = None, concurrency: int = 16,
                 timeout: float = 120.0, max_retries: int = 6, backoff: float = 1.0, max_backoff: float = 30.0,
                 max_new_tokens: int = 96, temperature: float = 0.7, check: bool = True):
        if concurrency < 1:
            raise ServingError("--concurrency must be at least 1")
        self.root = _api_root(base_url)
        self.model = model
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.max_new_tokens, self.temperature = max_new_tokens, temperature
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), headers=headers,
                                   limits=limits)
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="llm-request")
        self._lock = threading.Lock()
        self._closed = False
        self.requests = 0  # HTTP requests sent, retries included
        self.retried = 0  # of which retries after a transient failure
        if check:
            self.check_model()

    # -- set-up -----------------------------------------------------------------------------------
    def check_model(self) -> None:
        """Fail now, in one line, if the server is unreachable or does not serve ``model``."""
        try:
            reply = self.client.get(f"{self.root}/models")
        except httpx.HTTPError as exc:
            raise ServingError(f"cannot reach the LLM server at {self.root}: {exc}") from None
        self._raise_for_config(reply)
        if reply.status_code != 200:  # a server without the listing: the first request will tell
            return
        try:
            served = [m["id"] for m in reply.json()["data"]]
        except (ValueError, KeyError, TypeError):
            return
        if served and self.model not in served:
            raise ServingError(f"the server at {self.root} does not serve model {self.model!r}; "
                               f"it serves: {', '.join(served[:10])}")

    def _raise_for_config(self, reply) -> None:
        if reply.status_code in (401, 403):
            raise ServingError(f"the LLM server at {self.root} refused the request ({reply.status_code}): "
                               "check --api-key")
        if reply.status_code == 404 and "/models" not in str(reply.request.url):
            raise ServingError(f"{reply.request.url} not found (404): {_error_text(reply)}; is --base-url "
                               "the server's OpenAI API root (e.g. http://localhost:8000/v1) and --model "
                               "a name it serves?")

    # -- requests ---------------------------------------------------------------------------------
    def _payload(self, prompt: str, attempt: int) -> dict:
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                "max_tokens": self.max_new_tokens, "temperature": 0.0 if attempt == 0 else self.temperature}
        if attempt:
            body["seed"] = attempt
        return body

    def _request(self, prompt: str, attempt: int) -> str:
        """One request; :class:`TransientError` for what is worth retrying."""
        try:
            reply = self.client.post(f"{self.root}/chat/completions", json=self._payload(prompt, attempt))
        except httpx.TimeoutException as exc:
            raise TransientError(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TransientError(f"connection failed: {exc}") from None
        if reply.status_code in RETRY_STATUS:
            raise TransientError(f"HTTP {reply.status_code}: {_error_text(reply)}",
                                 _retry_after(reply.headers.get("retry-after")))
        self._raise_for_config(reply)
        if reply.status_code != 200:  # e.g. 400 for a prompt over the context length: this clip only
            raise RuntimeError(f"HTTP {reply.status_code}: {_error_text(reply)}")
        try:
            content = reply.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise TransientError(f"malformed reply: {reply.text[:120]!r}") from None
        return content if isinstance(content, str) else ""

    def _one(self, prompt: str, attempt: int) -> str | Exception:
        for retry in range(self.max_retries + 1):
            if self._closed:
                return RuntimeError("stopped before an answer came")
            with self._lock:
                self.requests += 1
                self.retried += retry > 0
            try:
                return self._request(prompt, attempt)
            except TransientError as exc:
                if retry == self.max_retries:
                    return RuntimeError(f"gave up after {retry + 1} requests: {exc.args[0]}")
                hinted = exc.args[1] if len(exc.args) > 1 else None
                delay = min(self.max_backoff, self.backoff * 2 ** retry)
                time.sleep(hinted if hinted is not None else delay * (0.5 + random.random() / 2))
            except ServingError:
                raise
            except Exception as exc:  # noqa: BLE001 - this clip's failure, recorded by the extractor
                return exc
        raise AssertionError("unreachable")

    def __call__(self, prompts: list[str], attempt: int = 0) -> list[str | Exception]:
        # map() keeps the input order whatever order the answers arrive in.
        try:
            return list(self.pool.map(lambda p: self._one(p, attempt), prompts))
        except BaseException:  # Ctrl-C or a configuration error: queue nothing more, retry nothing
            self._closed = True
            self.pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        self._closed = True
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


def _error_text(reply) -> str:
    """The server's own error message when it sent one, else the start of the body."""
    try:
        err = reply.json().get("error")
        msg = err.get("message") if isinstance(err, dict) else err
        if msg:
            return str(msg)[:200]
    except (ValueError, AttributeError):
        pass
    return reply.text[:200].strip() or reply.reason_phrase


def _retry_after(value: str | None) -> float | None:
    try:
        return min(60.0, max(0.0, float(value))) if value else None
    except ValueError:  # an HTTP date: use our own backoff
        return None


class VLLMGenerator:
    """vLLM's offline engine in this process: one ``LLM.chat`` call per batch (vLLM schedules the
    batch itself; give it large ``--batch-size``, e.g. 1024). Needs ``pip install 'uts[vllm]'``
    and a GPU. NOT RUN on the machine this was written on (no GPU, vLLM not installed)."""

    def __init__(self, model: str, max_new_tokens: int = 96, temperature: float = 0.7, **engine_args):
        try:
            import vllm  # lazy: optional extra (GPU only), absent from a plain install
        except ImportError:
            raise VocabError("--backend vllm needs vLLM: pip install 'uts[vllm]' (on a machine with a GPU); "
                             "or serve the model with `vllm serve` and use --backend openai") from None
        self._vllm = vllm
        self.llm = vllm.LLM(model=model, **engine_args)
        self.max_new_tokens, self.temperature = max_new_tokens, temperature

    def __call__(self, prompts: list[str], attempt: int = 0) -> list[str]:
        params = self._vllm.SamplingParams(max_tokens=self.max_new_tokens, seed=attempt or None,
                                           temperature=0.0 if attempt == 0 else self.temperature)
        outputs = self.llm.chat([[{"role": "user", "content": p}] for p in prompts], params, use_tqdm=False)
        return [o.outputs[0].text for o in outputs]


def make_generator(backend: str, model: str | None, *, base_url: str | None = None, api_key: str | None = None,
                   concurrency: int = 16, timeout: float = 120.0, max_new_tokens: int = 96,
                   device: str | None = None):
    """The generator for ``--backend``: a local transformers model directory, an OpenAI-compatible
    server, or vLLM's offline engine."""
    if backend not in BACKENDS:
        raise VocabError(f"unknown backend {backend!r} (choose {', '.join(BACKENDS)})")
    if not model:
        raise VocabError({"transformers": "--extractor llm needs --model PATH (a local causal LM directory)",
                          "openai": "--backend openai needs --model NAME (the name the server serves)",
                          "vllm": "--backend vllm needs --model (a local model directory)"}[backend])
    if backend == "openai":
        if not base_url:
            raise VocabError("--backend openai needs --base-url (e.g. http://localhost:8000/v1)")
        return OpenAIGenerator(base_url, model, api_key=api_key, concurrency=concurrency, timeout=timeout,
                               max_new_tokens=max_new_tokens)
    if base_url:
        raise VocabError("--base-url is for --backend openai")
    if backend == "vllm":
        return VLLMGenerator(model, max_new_tokens=max_new_tokens)

    return TransformersGenerator(model, device=device, max_new_tokens=max_new_tokens)
