"""``uts serve``: the local web app (browse, review mappings, propose edits). Parses and calls
:func:`uts.serve.app.serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    ontology: Optional[Path] = typer.Option(None, "--ontology", "-O", show_default=False,
                                            help="Ontology file to browse and edit (default: $UTS_ONTOLOGY or ontology/uts.ttl)."),
    mappings: Optional[list[Path]] = typer.Option(None, "--mappings", "-m", help="Folder of SSSOM files to show "
                                                  "and review (repeatable) (default: mapping/ beside the ontology folder)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind. Anything but a loopback address needs --token."),
    port: int = typer.Option(8000, "--port", "-p", min=1, max=65535, help="Port to listen on."),
    token: Optional[str] = typer.Option(None, "--token", envvar="UTS_SERVE_TOKEN",
                                        help="Access token every visitor must present (required off 127.0.0.1)."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", "-r", help="Default reviewer id (a CURIE such as "
                                           "orcid:0000-0002-1825-0097) for mapping decisions."),
    editor: Optional[str] = typer.Option(None, "--editor", help="Name recorded in the change log for edits "
                                         "(default: $UTS_EDITOR, git user.name or the OS user)."),
) -> None:
    """Browse UTS in a web browser, review mapping files and propose edits.

    \b
    Review: accept, reject, pick another candidate or change the predicate; decisions are
    written with reviewer id and date exactly as `uts map review` writes them.
    Edits: add a synonym, relabel, move, deprecate; validated, locked and logged like
    `uts ontology` edits (a refused edit changes nothing).
    Binds 127.0.0.1 by default. Example: uts serve --reviewer orcid:0000-0002-1825-0097
    """
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.ontology import default_ontology_path
    from uts.serve.app import check_bind, serve as run
    from uts.serve.mappings import mapping_roots

    # Errors (ServeError: a bad bind or mapping folder) are reported by the one table, uts/cli/errors.py.
    path = ontology or default_ontology_path()
    roots = mapping_roots(path, mappings)
    check_bind(host, token)
    url = f"http://{host}:{port}/" + (f"?token={token}" if token else "")
    run(path, roots, host=host, port=port, token=token, editor=editor, reviewer=reviewer,
        announce=lambda: typer.echo(f"UTS web app on {url}  ({path}; Ctrl+C to stop)"))
