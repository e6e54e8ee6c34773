"""``uts shar``: Lhotse Shar shards for training on many GPUs (``uts shar export``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Lhotse Shar shards: a mapped manifest and its audio packed for streaming "
                  "to many GPUs (uts train reads the folder as data.train).", no_args_is_help=True)


@app.command("export")
def export_cmd(
    manifest: Path = typer.Argument(..., help="Mapped manifest (uts map apply / uts pool / uts synth): "
                                    "flat JSONL, .jsonl.gz or Parquet with UTS ids. Lhotse cuts with free-text "
                                    "tags are mapped first: uts map apply CUTS -m ALIGNMENT -o MANIFEST."),
    out: Path = typer.Option(..., "--out", "-o", help="New folder for the shards (cuts.NNNNNN.jsonl.gz + "
                             "recording.NNNNNN.tar)."),
    shard_size: int = typer.Option(1000, "--shard-size", min=1, help="Clips per shard. Every GPU x loader "
                                   "worker reads whole shards, so keep shards >= GPUs x data.num_workers."),
    audio_format: str = typer.Option("flac", "--audio-format",
                                     help="Audio in the tar files: flac (lossless, about half of wav) or wav."),
    ontology: Optional[Path] = typer.Option(None, "--ontology", help="UTS ontology for bringing deprecated "
                                            "ids up to date [default: the shipped one]."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier export in --out."),
    strict: bool = typer.Option(False, "--strict", help="Refuse (exit 1, nothing written) when any clip "
                                "would be skipped, instead of skipping and counting it."),
) -> None:
    """Export a mapped manifest and its audio to Lhotse Shar shards.

    Each clip becomes a Lhotse cut holding its audio segment (re-encoded, cut to start/duration)
    with its UTS labels in the cut's custom fields (labels, inferred) and caption and source tags
    where the paper's release keeps them (supervisions[0].custom: caption, audio_tag). Clips
    whose audio is missing or unusable are skipped and counted, on the console and in OUT.export.json
    beside the folder (--strict refuses them instead). Nothing is left behind on
    failure (shards are written to a temporary folder and renamed).

    Example: uts shar export mapped.jsonl --out shar/train --shard-size 1000
    then:    uts train training/base.yaml --set data.train=shar/train
    """
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.cuts import SHAR_AUDIO_FORMATS, export_shar
    from uts.ontology import load

    if audio_format not in SHAR_AUDIO_FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(SHAR_AUDIO_FORMATS)}", param_hint="--audio-format")
    onto = load(ontology) if ontology else load()
    report = export_shar(manifest, out, shard_size=shard_size, audio_format=audio_format, onto=onto,
                         overwrite=overwrite, progress=True, strict=strict)
    typer.echo(report.summary())
