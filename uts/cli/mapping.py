"""CLI group for uts.mapping (being built)."""

import typer

app = typer.Typer(help="uts mapping commands.", no_args_is_help=True)
