"""Top-level training commands: ``uts synth`` (synthetic corpus), ``uts train``, ``uts eval``
and ``uts demo``. Each lives in its own module; this one only attaches them to the app."""

import typer

from uts.cli import synth, train


def register(app: typer.Typer) -> None:
    """Attach the training commands to the top-level app."""
    synth.register(app)
    train.register(app)
