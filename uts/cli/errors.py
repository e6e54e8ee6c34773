"""How every ``uts`` command reports an error: THE table of user mistakes and the one place that
applies it.

A library error named in :data:`USER_ERRORS` (or a subclass) is a user's mistake: one
``error:`` line on stderr, exit 1, no traceback. Anything else is a bug: still one line and
exit 1, saying how to see the traceback. ``uts --debug ...`` or ``UTS_DEBUG=1`` shows the
traceback for both. Usage errors (a bad option) are click's: exit 2.

Classes are named, not imported, so ``uts --help`` loads no library module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from typer.core import TyperGroup

USER_ERRORS = frozenset({
    # ontology
    "uts.ontology.io.OntologyFormatError", "uts.ontology.edit.EditError",
    "uts.ontology.release.ReleaseError", "uts.ontology.changelog.JournalError",
    "uts.ontology.resolve.TagFileError", "uts.ontology.files.CorruptFileError", "uts.ontology.export.ExportError",
    # manifests, mapping, vocabularies
    "uts.manifest.ManifestError", "uts.cuts.ManifestFormatError",
    "uts.mapping.apply.ApplyError", "uts.mapping.sssom.SSSOMError", "uts.mapping.labelsets.LabelSetError",
    "uts.mapping.review.ReviewError", "uts.mapping.evaluate.GoldFormatError", "uts.pool.PoolError",
    "uts.mapping.upgrade.UpgradeError",
    "uts.inputs.StrictError", "uts.inputs.OutputClashError",
    "uts.vocab.io.VocabError", "uts.vocab.llm.TagParseError", "uts.embedding.EmbeddingModelError",
    # corpus generation and training
    "uts.synth.corpus.SynthError", "uts.training.config.ConfigError", "uts.training.trainer.TrainError",
    "uts.training.evaluate.EvalError", "uts.training.hierarchy.HierarchyError",
    "uts.training.objectives.ObjectiveError", "uts.training.text.TextTowerError", "uts.training.demo.DemoError",
    "uts.training.tokenizer.TokenizerError", "uts.training.hf_encoders.HFEncoderError",
    "uts.training.audio.AudioError",
    # the static site and the web app (a bad bind, a mapping folder that is not there)
    "uts.serve.mappings.ServeError",
    # an unknown concept id or label (Ontology.get / resolve; a bare KeyError is a bug and says so);
    # the file system's refusals: a path that is not there or not ours, a full disk, a read-only
    # folder, a name too long (OSError and its subclasses)
    "uts.ontology.model.UnknownConceptError", "builtins.OSError",
})


_debug = {"flag": False}  # set by `uts --debug` for one invocation (never leaks into the environment)


def set_debug(on: bool) -> None:
    _debug["flag"] = on


def debug_enabled() -> bool:
    return _debug["flag"] or os.environ.get("UTS_DEBUG", "") not in ("", "0")


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _top_module(cls: type) -> str:
    return cls.__module__.partition(".")[0]


def is_user_error(exc: BaseException) -> bool:
    return not USER_ERRORS.isdisjoint(map(_qualified, type(exc).__mro__))


def message(exc: BaseException) -> str:
    # KeyError's str() is the repr of its argument; show the message itself.
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    if isinstance(exc, OSError) and exc.filename and exc.strerror:  # not "[Errno 28] ...: '/x/o.jsonl'"
        text = f"{exc.filename}: {exc.strerror}"
    return text if is_user_error(exc) else (
        f"unexpected {type(exc).__name__}: {text} (run with --debug or UTS_DEBUG=1 for the traceback)")


def _is_cli_control(exc: BaseException) -> bool:
    """typer's / click's own exits, aborts and usage errors (typer vendors click, so match by
    module): they carry their exit status and must pass through."""
    return not {"typer", "click"}.isdisjoint(map(_top_module, type(exc).__mro__))


# What matplotlib's savefig writes (its own list, FigureCanvasBase.get_supported_filetypes), kept
# here so that checking an option loads no plotting library.
PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".svgz", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff",
                 ".webp", ".gif", ".pgf", ".avif")


def plot_path(path):
    """typer callback for ``--plot PATH``: a usage error (exit 2) before any work when the
    suffix names no image format, rather than matplotlib's error after the work is done."""
    if path is not None and path.suffix.lower() not in PLOT_SUFFIXES:
        raise typer.BadParameter(f"{path}: the file name must end in an image format "
                                 f"({', '.join(PLOT_SUFFIXES[:4])}, ...)")
    return path


def fail(text: str) -> NoReturn:
    typer.secho(f"error: {text}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


@contextmanager
def user_errors() -> Iterator[None]:
    """Report any exception by the table (for code that runs outside a :class:`ErrorGroup`)."""
    try:
        yield
    except Exception as exc:
        if _is_cli_control(exc) or debug_enabled():
            raise
        fail(message(exc))


class ErrorGroup(TyperGroup):
    """The top-level command group: every sub-command runs inside :func:`user_errors`."""

    def invoke(self, ctx):
        try:
            with user_errors():
                return super().invoke(ctx)
        finally:
            set_debug(False)
