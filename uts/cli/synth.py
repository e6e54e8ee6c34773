"""``uts synth``: write a synthetic, UTS-labelled audio corpus (see uts/synth/corpus.py)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from uts.cli.errors import user_errors


class LabelMode(str, Enum):
    complete = "complete"
    leaf_only = "leaf-only"
    dropped = "dropped"
    wrong = "wrong"


class Domain(str, Enum):
    speech = "speech"
    music = "music"
    sound = "sound"


class SpeechBackend(str, Enum):
    auto = "auto"
    espeak = "espeak"
    numpy = "numpy"


def synth(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write audio/*.wav, manifest.jsonl and synth.json into."),
    n: int = typer.Option(200, "-n", "--clips", min=1, help="Number of clips."),
    seed: int = typer.Option(0, help="Random seed: the same seed and options give the same corpus."),
    sample_rate: int = typer.Option(16000, "--sample-rate", help="Sample rate of the WAV files (Hz)."),
    seconds: float = typer.Option(2.0, help="Length of every clip (s)."),
    labels: LabelMode = typer.Option(LabelMode.complete, "--labels", help=(
        "Which labels the manifest gives: complete (the true labels with all ancestors), leaf-only "
        "(most specific labels only), dropped (true labels removed at --drop-rate) or wrong (true labels "
        "replaced at --wrong-rate). The truth is always in the labels_complete column.")),
    drop_rate: float = typer.Option(0.3, "--drop-rate", help="Probability of removing each label (--labels dropped)."),
    wrong_rate: float = typer.Option(0.1, "--wrong-rate", help="Probability of replacing each label (--labels wrong)."),
    exclude_domain: list[Domain] = typer.Option([], "--exclude-domain", help="Leave out a domain (repeatable)."),
    max_sources: int = typer.Option(3, "--max-sources", help="Most sources mixed into one clip (1-3)."),
    speech: SpeechBackend = typer.Option(SpeechBackend.auto, "--speech", help=(
        "Speech source: espeak (espeak-ng, 5 languages), numpy (formant babble, no language labels) "
        "or auto (espeak when installed).")),
    skip_missing_labels: bool = typer.Option(False, "--skip-missing-labels", help=(
        "Leave out sources whose labels the ontology lacks instead of stopping with an error.")),
    ontology: Path = typer.Option(None, "--ontology", help="Ontology to label with (default: the shipped UTS)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing manifest in --out."),
) -> None:
    """Generate N labelled clips of speech, music and environmental sound (mixtures of 1-3
    sources), with UTS labels and captions, for experiments and the demo.

    Example: uts synth --out corpus -n 200 --labels leaf-only --exclude-domain speech
    """
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology import load
    from uts.synth import SynthConfig, synthesize

    with user_errors():
        onto = load(ontology)
        result = synthesize(out, onto, SynthConfig(
            n=n, seed=seed, sample_rate=sample_rate, seconds=seconds, label_mode=labels.value,
            drop_rate=drop_rate, wrong_rate=wrong_rate, exclude_domains=tuple(d.value for d in exclude_domain),
            max_sources=max_sources, speech_backend=speech.value, skip_missing_labels=skip_missing_labels,
        ), progress=True, overwrite=overwrite)
    if result.skipped_keys:
        typer.echo(f"left out (labels missing from the ontology): {', '.join(sorted(result.skipped_keys))}", err=True)
    speech_note = "no speech" if result.speech_backend == "none" else f"{result.speech_backend} speech"
    typer.echo(f"wrote {result.clips} clips ({speech_note}, {len(set(result.labels.values()))} "
               f"source concepts) -> {result.manifest}")


def register(app: typer.Typer) -> None:
    """Attach ``uts synth`` to the top-level app."""
    app.command("synth")(synth)
