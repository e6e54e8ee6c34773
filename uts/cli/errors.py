"""How every ``uts`` command reports a user's mistake: one ``error:`` line on stderr, exit 1,
no traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer


def fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


@contextmanager
def user_errors(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the library errors listed in ``kinds`` into :func:`fail`."""
    try:
        yield
    except (typer.Exit, typer.Abort):  # click's Exit is a RuntimeError: let it through
        raise
    except kinds as exc:
        # KeyError's str() is the repr of its argument; show the message itself.
        fail(str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc))
