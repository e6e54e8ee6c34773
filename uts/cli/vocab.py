"""``uts vocab ...``: the paper's data pipeline, ontology-aware — captions -> tags -> TF-IDF
vocabulary -> filtered manifests -> proposals for concepts UTS lacks.

Thin layer: parse, call :mod:`uts.vocab`, print. User errors end with a one-line message, exit 1.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from uts.cli.errors import fail as _fail, user_errors

app = typer.Typer(
    help="Build tag vocabularies from captions (the paper's pipeline, resolved to UTS concepts): "
    "extract tags, rank them by TF-IDF into vocabularies of several sizes, filter manifests with a "
    "vocabulary, and propose new concepts for frequent tags UTS does not know yet.",
    no_args_is_help=True,
)

OntologyOpt = typer.Option(
    None, "--ontology", "-O", show_default=False,
    help="Ontology to resolve tags against (default: $UTS_ONTOLOGY or ontology/uts.ttl); "
    "'none' keeps plain strings, as in the paper.")
AlignmentOpt = typer.Option(
    None, "--alignment", show_default=False,
    help="A reviewed SSSOM alignment of these tags (e.g. mapping/uts-paper.sssom.tsv): its decisions "
    "beat the ontology's own labels ('pops' -> popping sounds), exactly as `uts map apply` uses them.")


def _curated(alignment: Optional[Path]):
    if alignment is None:
        return None
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.mapping.sssom import read_sssom

    return read_sssom(alignment).curated_labels()


_user_errors = user_errors  # the one table, uts/cli/errors.py


def _ontology(value: Optional[str]):
    """None for 'none', else the ontology (a missing file fails with one line)."""
    if value is not None and value.lower() == "none":
        return None
    path = Path(value) if value else None
    if path is not None and not path.is_file():
        _fail(f"ontology file not found: {path}")
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology import load

    return load(path)


@app.command()
def extract(
    input: Path = typer.Argument(..., help="Captions: JSON Lines / Parquet with 'id' and 'caption', "
                                 "or a Lhotse cut manifest (caption in supervisions[0].custom)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output JSON Lines: {id, tags, concept_ids} per clip."),
    extractor: str = typer.Option("ontology", "--extractor", "-e",
                                  help="'ontology' (offline, deterministic: concepts the caption mentions "
                                  "plus its other content words) or 'llm' (a language model with the "
                                  "paper's prompt; needs --model; see --backend)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="llm: where the model runs (implies "
                                          "--extractor llm): 'transformers' (default: a local model "
                                          "directory), 'openai' (any OpenAI-compatible server: vllm serve, "
                                          "llama.cpp, TGI; needs --base-url) or 'vllm' (vLLM's offline "
                                          "engine on a GPU; pip install 'uts[vllm]')."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="llm: local model directory "
                                        "(transformers, vllm; never downloaded), or the model name the "
                                        "server serves (openai)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="openai: the server's API root, "
                                           "e.g. http://localhost:8000/v1."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="OPENAI_API_KEY", show_default=False,
                                          help="openai: bearer token, if the server wants one."),
    concurrency: int = typer.Option(16, "--concurrency", min=1, help="openai: requests in flight at once "
                                    "(use a --batch-size of a few times this)."),
    timeout: float = typer.Option(120.0, "--timeout", min=0.01, help="openai: seconds before a request is "
                                  "abandoned and retried (timeouts, connection errors, 429 and 5xx are "
                                  "retried with backoff)."),
    embed_threshold: float = typer.Option(0.8, "--embed-threshold", help="Cosine needed to match a "
                                          "phrase or tag no label names to a concept label by embedding."),
    embed_min_words: int = typer.Option(2, "--embed-min-words", min=1, help="Shortest phrase (in words) "
                                        "matched by embedding. Lone words are left unresolved for "
                                        "'uts vocab propose': matched by embedding they were mostly "
                                        "the wrong sense (12 right of 46 on the paper's tags)."),
    no_embed: bool = typer.Option(False, "--no-embed", help="Lexical matching only (no embedding model)."),
    batch_size: int = typer.Option(32, "--batch-size", "-b", min=1, help="Captions per batch."),
    max_new_tokens: int = typer.Option(96, "--max-new-tokens", min=1, help="llm: tokens generated per answer."),
    retries: int = typer.Option(2, "--retries", min=0, help="llm: re-asks (sampling) for an unparsable answer."),
    device: Optional[str] = typer.Option(None, "--device", help="llm: torch device (default: cuda if present)."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue an interrupted run "
                                "(skip ids already in --out); --no-resume refuses an existing --out."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="On resume, redo clips whose "
                                      "answer could not be parsed."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write the counts (clips tagged, "
                                          "failed, left out and why) as JSON here."),
    strict: bool = typer.Option(False, "--strict", help="Refuse (exit 1, nothing written) if any clip would "
                                "be left out (no caption) instead of counting and skipping it."),
    ontology: Optional[str] = OntologyOpt,
) -> None:
    """Extract tags from captions (the paper's step 2) and resolve them to UTS concepts.

    Clips without a caption are left out, counted and named on the console and in --report
    (--strict refuses instead).

    Example: uts vocab extract docs/examples/captions.jsonl --out tags.jsonl

    With an LLM server (see docs/vocab.md for a vLLM recipe): uts vocab extract captions.jsonl
    --out tags.jsonl --backend openai --base-url http://localhost:8000/v1 --model Qwen/Qwen2.5-7B-Instruct
    --concurrency 64 --batch-size 256
    """
    with _user_errors():
        # lazy: the library loads when the command runs, so `uts --help` stays fast
        from uts.vocab.extract import OntologyExtractor, run_extraction
        from uts.inputs import Skipped, refuse_clashing_outputs
        from uts.vocab.io import VocabError, read_captions, write_json

        refuse_clashing_outputs({"INPUT": input}, {"--out": out, "--report": report})
        left_out = Skipped("clips")
        items = read_captions(input, left_out)
        left_out.check(strict, input)
        onto = _ontology(ontology)
        if backend is not None:
            extractor = "llm"
        if extractor == "ontology":
            if onto is None:
                raise VocabError("the ontology extractor needs an ontology")
            ex = OntologyExtractor(onto, None if no_embed else embed_threshold, embed_min_words=embed_min_words)
        elif extractor == "llm":
            # lazy: the library loads when the command runs, so `uts --help` stays fast
            from uts.vocab.llm import LLMExtractor
            from uts.vocab.resolve import EmbeddingMatcher
            from uts.vocab.serving import make_generator

            generate = make_generator(backend or "transformers", model, base_url=base_url, api_key=api_key,
                                      concurrency=concurrency, timeout=timeout, max_new_tokens=max_new_tokens,
                                      device=device)
            matcher = (EmbeddingMatcher(onto, embed_threshold, min_words=embed_min_words)
                       if onto is not None and not no_embed else None)
            ex = LLMExtractor(generate, onto=onto, retries=retries, matcher=matcher)
        else:
            raise VocabError(f"unknown extractor {extractor!r} (choose 'ontology' or 'llm')")
        settings = {"input": str(input.resolve()), "extractor": extractor, "backend": backend, "model": model,
                    "embed_threshold": None if no_embed else embed_threshold, "embed_min_words": embed_min_words,
                    "max_new_tokens": max_new_tokens, "ontology": onto.meta.version if onto is not None else None}
        stats = run_extraction(items, ex, out, batch_size=batch_size, resume=resume, retry_failed=retry_failed,
                               settings=settings)
        stats["left_out"] = left_out.to_dict()
        if report is not None:
            write_json(report, stats)
    typer.echo(f"{stats['written'] - stats['failed']} clips tagged, {stats['failed']} failed ({stats['skipped']} "
               "already done), "
               f"{stats['tags']} tags of which {stats['unresolved_tags']} unresolved -> {out}")
    typer.echo(f"input: {left_out.summary()}", err=bool(left_out))


def _sizes(values: list[str]) -> list[str]:
    """typer callback for ``--sizes``: each a positive whole number (``800``, ``1.5k``), else a
    usage error naming the option before any work."""
    from uts.vocab.build import first_bad_size  # lazy: polars loads only when the command runs

    bad = first_bad_size(values)
    if bad is not None:
        raise typer.BadParameter(f"not a vocabulary size: {bad!r} (a positive whole number, e.g. 800 or 1.5k)")
    return values


@contextmanager
def _status(message: str):
    """A spinner on an interactive terminal; nothing otherwise (scripts and logs need none, and
    they need not pay for importing rich)."""
    if not sys.stderr.isatty():
        yield
        return
    # lazy: rich (~50 ms) loads only for the commands that draw with it
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield


@app.command()
def build(
    input: list[str] = typer.Argument(..., metavar="INPUT", show_default=False,
                                      help="Tagged clips: JSON Lines / Parquet with 'id' and 'tags' (e.g. from "
                                      "`uts vocab extract`), or a Lhotse manifest (audio_tag)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    sizes: list[str] = typer.Option(["800", "1000", "1500", "2000", "3000"], "--sizes", "-s", callback=_sizes,
                                    help="Vocabulary sizes, e.g. --sizes 800 1000 1500 2000 3000 (1.5k works too)."),
    unit: str = typer.Option("tag", "--unit", help="'tag' ranks raw strings (the paper); 'concept' ranks "
                             "UTS concepts, so spelling variants of one idea are counted together."),
    balance: Optional[float] = typer.Option(None, "--balance", help="Reserve at least this share of "
                                            "each size for each of speech, music and sound (e.g. 0.15)."),
    closure: bool = typer.Option(False, "--closure", help="Add the ancestors of the selected concepts."),
    coverage: bool = typer.Option(False, "--coverage", help="One more pass over the input to count the "
                                  "clips each vocabulary keeps (what `uts vocab filter` would leave)."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Draw vocab_stats.png."),
    ontology: Optional[str] = OntologyOpt,
    alignment: Optional[Path] = AlignmentOpt,
) -> None:
    """Rank tags by TF-IDF, Score = df * log((N+1)/(df+1)), and write one vocabulary per size.

    Writes into --out: label_<size>.json in the paper's id2label form (label_800.json, label_1k.json, label_1.5k.json, ...), concepts_<size>.json (UTS ids, labels, domains), ranking.csv, stats.json, report.md and vocab_stats.png.

    Example: uts vocab build tags.jsonl --sizes 800 1000 1500 2000 3000 --out vocab/
    """
    with _user_errors():
        # lazy: the library loads when the command runs, so `uts --help` stays fast
        from uts.vocab.build import build_and_write, split_sizes
        from uts.vocab.io import VocabError

        # Click options take one value each: "--sizes 800 1000" leaves 1000 among the INPUT words.
        try:
            path, sizes_int = split_sizes(sizes, input)
        except VocabError as exc:  # a word too many among INPUT: a usage error, like a bad option
            raise typer.BadParameter(str(exc), param_hint="'INPUT'") from None
        no_ontology = ontology is not None and ontology.lower() == "none"
        with _status(f"counting and ranking the tags of {path} ..."):
            result = build_and_write(path, out, sizes_int, use_ontology=not no_ontology,
                                     ontology_path=None if no_ontology else ontology, alignment=alignment,
                                     plot=plot, unit=unit, balance=balance, closure=closure, coverage=coverage)
    typer.echo(f"{result.summary()} -> {out}")


@app.command("filter")
def filter_(
    input: Path = typer.Argument(..., help="Tagged clips (JSON Lines / Parquet with 'id' and 'tags'; "
                                 "'audio_path', 'start', 'duration', 'caption' are carried over) or Lhotse cuts."),
    vocab: Path = typer.Option(..., "--vocab", "-v", help="label_<size>.json (keep tags by string) or "
                               "concepts_<size>.json (keep tags that name one of its concepts)."),
    out: Path = typer.Option(..., "--out", "-o", help="The clip manifest to write, as `uts train` reads it "
                             "(.jsonl, .jsonl.gz or .parquet)."),
    report: Optional[Path] = typer.Option(None, "--report", help="Also write the counts as JSON here."),
    ontology: Optional[str] = OntologyOpt,
    alignment: Optional[Path] = AlignmentOpt,
) -> None:
    """Keep only in-vocabulary tags; drop clips left with none (the paper's step 4); write the clip
    manifest `uts train` reads.

    Each clip gets 'labels' (the UTS concepts of its kept tags: the record's own concept_ids from
    `uts vocab extract`, else the resolver's answer), 'inferred' (their ancestors) and
    'source_labels' (the kept tags as written). With --ontology none and a label_<size>.json, only
    the tags are kept (the paper's procedure on plain strings).

    Example: uts vocab filter tags.jsonl --vocab vocab/concepts_1k.json --out clips.jsonl
    """
    with _user_errors():
        # lazy: the library loads when the command runs, so `uts --help` stays fast
        from uts.inputs import refuse_clashing_outputs
        from uts.vocab.filter import Vocabulary, filter_manifest

        refuse_clashing_outputs({"INPUT": input, "--vocab": vocab, "--alignment": alignment},
                                {"--out": out, "--report": report})
        stats = filter_manifest(input, Vocabulary(vocab, _ontology(ontology), _curated(alignment)), out)
        if report is not None:
            # lazy: the library loads when the command runs, so `uts --help` stays fast
            from uts.vocab.io import write_json

            write_json(report, stats)
    typer.echo(f"kept {stats['kept']} of {stats['clips']} clips ({stats['removed']} removed, no tag left; "
               f"{stats['with_concepts']} with UTS labels); {stats['tags_kept']} of {stats['tags_in']} "
               f"tags kept -> {out}")


@app.command()
def propose(
    input: Path = typer.Argument(..., help="Tagged clips (e.g. from `uts vocab extract`)."),
    out: Path = typer.Option(..., "--out", "-o", help="Edit file to write (YAML list of 'add' operations)."),
    min_df: int = typer.Option(2, "--min-df", min=1, help="Propose only tags seen in at least this many clips."),
    top: int = typer.Option(50, "--top", min=1, help="At most this many candidates, most frequent first."),
    suggest: str = typer.Option("auto", "--suggest", help="How parents are suggested: 'mapping' (the "
                                "mapping engine's matcher), 'embedding' (nearest concept labels) or "
                                "'auto' (mapping, else embedding)."),
    ontology: Optional[str] = OntologyOpt,
) -> None:
    """Turn frequent tags that UTS lacks into candidate concepts with suggested parents.

    The edit file is meant for review; once reviewed, apply it with the ontology's batch edit.

    Example: uts vocab propose tags.jsonl --out proposals.yaml, then: uts ontology apply proposals.yaml
    """
    with _user_errors():
        # lazy: the library loads when the command runs, so `uts --help` stays fast
        from uts.inputs import refuse_clashing_outputs
        from uts.vocab.io import VocabError
        from uts.vocab.propose import propose as run_propose, write_proposals

        refuse_clashing_outputs({"INPUT": input, "--ontology": None if ontology in (None, "none") else ontology},
                                {"--out": out})
        onto = _ontology(ontology)
        if onto is None:
            raise VocabError("propose needs an ontology")
        proposals = run_propose(input, onto, min_df=min_df, top=top, suggest=suggest)
        write_proposals(out, proposals, onto, source=str(input))
    typer.echo(f"{len(proposals)} candidate concepts -> {out} (review before applying)")
