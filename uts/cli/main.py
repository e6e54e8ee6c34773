"""The ``uts`` console command. Sub-command groups live one module each beside this file;
heavy libraries (torch, sentence-transformers) are imported inside commands so ``--help`` is fast."""

from __future__ import annotations

import typer

from uts import __version__
from uts.cli import mapping, ontology, pool, serve, shar, synth, train, vocab
from uts.cli.errors import ErrorGroup, set_debug

app = typer.Typer(
    name="uts",
    help="Unified Tag System toolkit: keep the audio tag ontology, map datasets onto it, "
    "build tag vocabularies from captions and pre-train audio encoders against it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ErrorGroup,  # the one error table (uts/cli/errors.py) for every command
)
app.add_typer(ontology.app, name="ontology")
app.add_typer(mapping.app, name="map")
app.add_typer(vocab.app, name="vocab")
app.add_typer(shar.app, name="shar")
synth.register(app)  # uts synth
train.register(app)  # uts train, uts eval, uts demo
pool.register(app)  # uts pool
serve.register(app)  # uts serve


def _version(value: bool) -> None:
    if value:
        typer.echo(f"uts {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the toolkit version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an error "
                               "(same as UTS_DEBUG=1)."),
) -> None:
    """Unified Tag System toolkit."""
    set_debug(debug)


if __name__ == "__main__":
    app()
