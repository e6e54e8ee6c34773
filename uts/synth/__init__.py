"""The synthetic speech/music/sound corpus generator (``uts synth``): labelled clips for
experiments and the demo. Not training: it writes a manifest (:mod:`uts.manifest`) that
training reads like any other. See :mod:`uts.synth.corpus` and docs/synth.md."""

from .corpus import (LABEL_MODES, LABEL_TABLE, SynthConfig, SynthError, SynthResult, closure,
                     most_specific, resolve_labels, synthesize)

__all__ = ["LABEL_MODES", "LABEL_TABLE", "SynthConfig", "SynthError", "SynthResult", "closure",
           "most_specific", "resolve_labels", "synthesize"]
