"""CLI group for uts.vocab (being built)."""

import typer

app = typer.Typer(help="uts vocab commands.", no_args_is_help=True)
