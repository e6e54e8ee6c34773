"""Two rules every command that reads input files follows (issue 14):

* **Say where a file is broken.** polars' JSON Lines errors name neither file nor line ("error
  parsing line: ExpectedObjectKey at character 12"); :func:`uts.ontology.files.first_bad_json_line`
  finds the line.
* **Never drop input silently.** Whatever a command leaves out (a clip without a caption, a line
  that is no record, a label that maps to nothing) goes into a :class:`Skipped`: counted by
  reason with a few examples, printed on the console, written into the command's report, and
  refused by ``--strict`` (:meth:`Skipped.check`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

EXAMPLES_PER_REASON = 5


class StrictError(ValueError):
    """``--strict`` refused input that would otherwise have been skipped."""


@dataclass
class Skipped:
    """Input a command left out, by reason. ``of`` is how many it looked at; ``unit`` what one is
    ("clips", "lines", "label occurrences")."""

    unit: str = "clips"
    of: int = 0
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, example: object = None, n: int = 1) -> None:
        if n <= 0:
            return
        self.counts[reason] += n
        shown = self.examples.setdefault(reason, [])
        if example is not None and len(shown) < EXAMPLES_PER_REASON:
            shown.append(str(example))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __bool__(self) -> bool:
        return self.total > 0

    def summary(self) -> str:
        """One line: ``skipped 3 of 200 clips (no caption: 3, e.g. c7, c9)``."""
        line = f"skipped {self.total} of {self.of} {self.unit}"
        if not self:
            return line
        parts = [f"{reason}: {n}" + (f", e.g. {', '.join(self.examples[reason][:2])}"
                                     if self.examples.get(reason) else "")
                 for reason, n in sorted(self.counts.items())]
        return f"{line} ({'; '.join(parts)})"

    def to_dict(self) -> dict:
        return {"unit": self.unit, "of": self.of, "skipped": self.total, "reasons": dict(sorted(self.counts.items())),
                "examples": {k: v for k, v in sorted(self.examples.items()) if v}}

    def check(self, strict: bool, source: object) -> None:
        """Under ``--strict``, refuse (:class:`StrictError`) when anything was skipped."""
        if strict and self:
            raise StrictError(f"{source}: {self.summary()}; --strict refuses to skip input "
                              "(fix the input, or run without --strict to skip and count it)")


class OutputClashError(ValueError):
    """An output path is also an input, or another output: writing it would destroy data."""


def refuse_clashing_outputs(inputs: dict[str, object], outputs: dict[str, object]) -> None:
    """Refuse, before any work, an output that would replace a file the command reads or another
    of its outputs (``map apply -o IN`` once replaced the annotations it had just read, with exit
    0). Keys name the argument in the message; values are paths, lists of paths or None."""

    def paths(named: dict[str, object]):
        for name, value in named.items():
            for path in (value if isinstance(value, (list, tuple)) else [value]):
                if path is not None:
                    yield name, Path(path)

    seen = {path.resolve(): name for name, path in paths(inputs)}
    for name, path in paths(outputs):
        key = path.resolve()
        if key in seen:
            raise OutputClashError(f"{name} {path} is also {seen[key]}: writing it would destroy what the command "
                                   "reads or writes there; choose another path")
        seen[key] = name
