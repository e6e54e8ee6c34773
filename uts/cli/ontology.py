"""CLI group for uts.ontology (being built)."""

import typer

app = typer.Typer(help="uts ontology commands.", no_args_is_help=True)
