"""Lhotse cut records shaped like the paper's release (a ``MonoCut`` per line; caption and tags in
``supervisions[0].custom``), for the tests that feed Lhotse manifests to the toolkit."""

from __future__ import annotations


def paper_cut(cid: str, audio: str, tags, caption: str | None = "cap", start: float = 0.0,
              duration: float = 1.0, sampling_rate: int = 16000, file_seconds: float | None = None) -> dict:
    """One cut of ``audio`` from ``start`` for ``duration`` s; ``tags`` a list or a
    comma-joined string (both occur in releases)."""
    seconds = file_seconds if file_seconds is not None else start + duration
    custom = {"audio_tag": tags, **({"caption": caption} if caption is not None else {})}
    return {
        "id": cid, "start": start, "duration": duration, "channel": 0,
        "supervisions": [{"id": cid, "recording_id": cid, "start": 0.0, "duration": duration,
                          "channel": 0, "custom": custom}],
        "recording": {"id": cid, "sources": [{"type": "file", "channels": [0], "source": audio}],
                      "sampling_rate": sampling_rate, "num_samples": int(round(seconds * sampling_rate)),
                      "duration": seconds, "channel_ids": [0]},
        "type": "MonoCut",
    }
