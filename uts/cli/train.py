"""CLI for uts train (being built)."""

import typer


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
