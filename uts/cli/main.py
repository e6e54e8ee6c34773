"""The ``uts`` console command. Sub-command groups live one module each beside this file;
heavy libraries (torch, sentence-transformers) are imported inside commands so ``--help`` is fast."""

from __future__ import annotations

import typer

from uts import __version__
from uts.cli import mapping, ontology, serve, training, vocab

app = typer.Typer(
    name="uts",
    help="Unified Tag System toolkit: keep the audio tag ontology, map datasets onto it, "
    "build tag vocabularies from captions and pre-train audio encoders against it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(ontology.app, name="ontology")
app.add_typer(mapping.app, name="map")
app.add_typer(vocab.app, name="vocab")
training.register(app)
serve.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"uts {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the toolkit version and exit."),
) -> None:
    """Unified Tag System toolkit."""


if __name__ == "__main__":
    app()
