"""CLI commands for uts.training (being built): train, eval, synth, demo."""

import typer


def register(app: typer.Typer) -> None:
    """Attach the training commands to the top-level app."""
