"""Thin typer front end: each sub-command group parses arguments and calls library functions."""
