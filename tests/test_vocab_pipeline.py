"""The whole pipeline through the CLI on a Lhotse manifest: extract -> build -> filter."""

from __future__ import annotations

import gzip
import json

from test_vocab_support import write_ontology
from typer.testing import CliRunner

from uts.cli.main import app

CAPTIONS = [
    "Dogs barking near a busy street while a siren wails.",
    "A male voice narrating over soft piano.",
    "Heavy rain on a roof; a dog barks.",
    "Distorted electric guitar and drums in a rock song.",
    "A female voice laughing in a reverberant hall.",
    "Rain and a passing car; a siren in the distance.",
]


def test_lhotse_manifest_through_extract_build_filter(tmp_path):
    onto = str(write_ontology(tmp_path / "onto.ttl"))
    cuts = tmp_path / "cuts.jsonl.gz"
    with gzip.open(cuts, "wt") as fh:
        for i, caption in enumerate(CAPTIONS):
            fh.write(json.dumps({
                "id": f"cut{i}", "start": 0.0, "duration": 10.0, "channel": 0,
                "recording": {"id": f"rec{i}", "sources": [{"type": "file", "channels": [0], "source": f"/data/{i}.flac"}],
                              "sampling_rate": 16000, "num_samples": 160000, "duration": 10.0},
                "supervisions": [{"id": f"sup{i}", "recording_id": f"rec{i}", "start": 0.0, "duration": 10.0,
                                  "custom": {"caption": caption}}],
                "type": "MonoCut",
            }) + "\n")
    run = CliRunner().invoke
    tags = tmp_path / "tags.jsonl"
    res = run(app, ["vocab", "extract", str(cuts), "--out", str(tags), "--no-embed", "-O", onto])
    assert res.exit_code == 0, res.output
    vocab = tmp_path / "vocab"
    res = run(app, ["vocab", "build", str(tags), "--sizes", "3", "5", "--unit", "concept", "--out", str(vocab), "-O", onto,
                    "--no-plot"])
    assert res.exit_code == 0, res.output
    labels = json.loads((vocab / "label_5.json").read_text())
    assert {"dog", "siren", "rain"} <= set(labels.values())  # each in 2 of 6 clips: the top scores
    # Write the extracted tags back into the cuts, as a published Lhotse manifest carries them.
    filtered = tmp_path / "tagged_cuts.jsonl"
    with gzip.open(cuts, "rt") as src, open(tmp_path / "with_tags.jsonl", "w") as dst:
        rows = {json.loads(line)["id"]: json.loads(line) for line in tags.read_text().splitlines()}
        for line in src:
            cut = json.loads(line)
            cut["supervisions"][0]["custom"]["audio_tag"] = rows[cut["id"]]["tags"]
            dst.write(json.dumps(cut) + "\n")
    res = run(app, ["vocab", "filter", str(tmp_path / "with_tags.jsonl"), "--vocab", str(vocab / "concepts_3.json"),
                    "--out", str(filtered), "-O", onto])
    assert res.exit_code == 0, res.output
    # the cuts come out as the clip manifest: the vocabulary's concept ids, audio and caption from the cut
    kept = [json.loads(line) for line in filtered.read_text().splitlines()]
    concepts = {e["id"] for e in json.loads((vocab / "concepts_3.json").read_text())["concepts"]}
    assert kept and all(c["labels"] and set(c["labels"]) <= concepts for c in kept)
    assert all(c["audio_path"].startswith("/data/") and c["duration"] == 10.0 and c["caption"] for c in kept)
    assert f"kept {len(kept)} of 6 clips" in res.output
