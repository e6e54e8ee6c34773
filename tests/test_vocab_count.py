"""The fast document-frequency counter (uts.vocab.count) against a plain Python reference and
against the general polars query: same counts on awkward but valid input, the same errors (or the
same lenient reading) on input it does not decode itself."""

from __future__ import annotations

import json
import random
from collections import Counter

import numpy as np
import polars as pl
import pytest

from uts.vocab import count as fast
from uts.vocab.build import _count_query, build_vocabulary, count_tags
from uts.vocab.io import VocabError, scan_tags


def python_df(lines: list[str]) -> tuple[int, int, dict[str, int]]:
    """clips, tagged clips, df of normalised tags (stripped, lowercased, no empty), the obvious way."""
    df, clips, tagged = Counter(), 0, 0
    for line in lines:
        if not line.strip():
            continue
        clips += 1
        tags = {t.strip().lower() for t in json.loads(line).get("tags") or [] if t is not None and t.strip()}
        tagged += bool(tags)
        df.update(tags)
    return clips, tagged, dict(df)


def as_dict(frame: pl.DataFrame) -> dict[str, int]:
    return dict(frame.select("tags", "df").iter_rows())


AWKWARD = [
    '{"id":"1","tags":["rain","rain","wind"]}',
    '{ "id" : "2" , "tags" : [ "rain" , "car" ] }',           # spaces: read by the NDJSON reader
    '{"id":"3","tags":["x\\"q","\\u00e9t\\u00e9","a\\\\b","été"]}',  # escapes and unicode
    '',
    '   ',
    '{"id":"4"}',                                              # no tags: a clip without tags
    '{"id":"5","tags":null}',
    '{"id":"6","tags":[]}',
    '{"id":"7","tags":["rain",null,"rain"]}',                 # null element dropped
    '{"id":"8","meta":{"k":[1,2]},"tags":["wind"],"n":3}',
    '{"id":"9","tags":["Rain "," rain"]}\r',                   # CRLF line end; one tag, counted once
    '{"id":"10","tags":["  ","RAIN"]}',                        # a blank tag is dropped
    '{"id":"11","tags":["", " "]}',                            # ... and a clip of blanks has none
]


def write(path, lines, end="\n"):
    path.write_text(end.join(lines) + end, encoding="utf-8")
    return path


def test_awkward_valid_lines_count_like_python_and_like_the_general_query(tmp_path):
    path = write(tmp_path / "t.jsonl", AWKWARD)
    clips, tagged, frame = fast.count_jsonl(path)
    assert (clips, tagged, as_dict(frame)) == python_df(AWKWARD)
    g_clips, g_tagged, general = _count_query(scan_tags(path), True)
    assert (clips, tagged, as_dict(frame)) == (g_clips, g_tagged, as_dict(general))


def test_no_final_newline_and_many_small_chunks_on_threads(tmp_path, monkeypatch):
    rng = random.Random(1)
    names = [f"t{i}" for i in range(200)]
    records = [{"id": str(i), "tags": rng.choices(names, [1 / (j + 1) for j in range(200)], k=rng.randint(0, 12))}
               for i in range(3000)]
    lines = [json.dumps(r, separators=(",", ":")) for r in records]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")  # no newline after the last clip
    monkeypatch.setattr(fast, "_workers", lambda: 3)
    clips, tagged, frame = fast.count_jsonl(path, rows=97)  # ~31 chunks sharing one category table
    assert (clips, tagged, as_dict(frame)) == python_df(lines)


@pytest.mark.parametrize("lens", [[10] * 50, [3, 0, 7, 1, 10, 2] * 10, [1] * 40 + [600]])
def test_per_clip_dedup_paths_agree_with_a_set_per_clip(lens):
    # uniform rows (reshape), ragged rows (padded matrix) and one huge clip (sorted keys)
    rng = np.random.default_rng(0)
    lens = np.array(lens, dtype=np.uint32)
    codes = rng.integers(0, 25, size=int(lens.sum())).astype(np.uint32)
    got = fast._distinct_per_clip_counts(codes, lens)
    want, start = Counter(), 0
    for n in lens:
        want.update(set(codes[start:start + n].tolist()))
        start += n
    assert {i: int(c) for i, c in enumerate(got) if c} == dict(want)


def test_normalisation_collisions_recount_per_clip_on_the_fast_path(tmp_path):
    lines = ['{"id":"1","tags":["Drum","drum ","rain"]}', '{"id":"2","tags":["drum"]}',
             '{"id":"3","tags":["","  "]}', '{"id":"4","tags":null}']
    n, tagged, frame = count_tags(scan_tags(write(tmp_path / "t.jsonl", lines)), tmp_path / "t.jsonl")
    assert dict(frame.select("tag", "df").iter_rows()) == {"drum": 2, "rain": 1}
    assert (n, tagged) == (4, 2)


@pytest.mark.parametrize("line,match", [
    ('not json', "bad.jsonl:2:(\\d+:)? not a JSON object"),
    ('{"id":"1","tags":["rain"', "bad.jsonl:2:(\\d+:)? not a JSON object"),
    ('{"id":"1","tags":["rain"]} trailing', "bad.jsonl:2:(\\d+:)? not a JSON object"),
    ('{"id":"1","tags":"rain, wind"}', "list of strings"),
    ('{"id":"1","tags":["ra\x01in"]}', "bad.jsonl:2:(\\d+:)? not a JSON object"),      # raw control character
    ('[1, 2]', "bad.jsonl:2:(\\d+:)? not a JSON object"),
])
def test_malformed_lines_still_fail_clearly(tmp_path, line, match):
    path = write(tmp_path / "bad.jsonl", ['{"id":"0","tags":["wind"]}', line])
    with pytest.raises(VocabError, match=match):
        build_vocabulary(path, [5])
    with pytest.raises(pl.exceptions.PolarsError):  # the fast path itself refuses, it does not guess
        fast.count_jsonl(path)


def test_what_the_fast_path_cannot_decode_reads_as_on_the_general_path(tmp_path):
    # Nested values inside the list: the fast decoder refuses. The NDJSON reader of the general
    # query would turn a nested list into its JSON text (the tag '["x"]'): it is refused at its
    # line instead (issue 14, F-DROP-2); a number still reads as its text, as before.
    path = write(tmp_path / "n.jsonl", ['{"id":"1","tags":["rain",["x"]]}', '{"id":"2","tags":["rain", 3]}'])
    with pytest.raises(pl.exceptions.PolarsError):
        fast.count_jsonl(path)
    with pytest.raises(VocabError, match=r"n\.jsonl:1: column 'tags' expected a list of strings, got a list of lists"):
        count_tags(scan_tags(path), path)
    path = write(tmp_path / "n.jsonl", ['{"id":"1","tags":["rain","wind"]}', '{"id":"2","tags":["rain", 3]}'])
    n, tagged, frame = count_tags(scan_tags(path), path)
    assert dict(frame.select("tag", "df").iter_rows()) == {"rain": 2, "wind": 1, "3": 1}


def test_gzip_takes_the_general_path(tmp_path):
    import gzip

    path = tmp_path / "t.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write('{"id":"1","tags":["rain","wind"]}\n{"id":"2","tags":["rain"]}\n')
    assert not fast.is_plain_jsonl(path)
    result = build_vocabulary(path, [5])
    assert dict(result.ranking.select("item", "df").iter_rows()) == {"rain": 2, "wind": 1}


def test_parquet_fast_path_and_non_string_tags(tmp_path):
    rng = random.Random(2)
    records = [{"id": str(i), "tags": rng.sample(["a", "b", "c", "d", "e"], rng.randint(0, 4)) + ["a"]}
               for i in range(500)]
    frame = pl.DataFrame(records, schema={"id": pl.Utf8, "tags": pl.List(pl.Utf8)})
    frame.write_parquet(tmp_path / "t.parquet")
    lines = [json.dumps(r) for r in records]
    clips, tagged, counts = fast.count_parquet(tmp_path / "t.parquet", rows=64)
    assert (clips, tagged, as_dict(counts)) == python_df(lines)
    # integer tags: not the fast path's type; the general query words the error, as before
    frame.with_columns(pl.col("tags").list.eval(pl.element().str.len_bytes())).write_parquet(tmp_path / "i.parquet")
    with pytest.raises(fast.FastPathUnavailable):
        fast.count_parquet(tmp_path / "i.parquet")
    with pytest.raises(VocabError, match="list of strings"):
        build_vocabulary(tmp_path / "i.parquet", [5])


def test_invalid_utf8_fails_clearly(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'{"id":"0","tags":["wind"]}\n{"id":"1","tags":["r\xffin"]}\n')
    with pytest.raises(pl.exceptions.PolarsError):
        fast.count_jsonl(path)
    with pytest.raises(VocabError):
        build_vocabulary(path, [5])


def test_the_fast_cut_reader_gives_the_tags_lhotse_gives(tmp_path):
    # vocab build streams two fields of a cut manifest with polars instead of parsing each cut
    # with lhotse (the one cut reader, uts.cuts); this pins that both read the same tags, for
    # both forms of audio_tag the paper's releases use
    from _lhotse_helpers import paper_cut

    from uts.cuts import read_cuts

    for name, tags in (("lists", [["Dog", " bark"], [], ["rain", "rain", "Thunder"]]),
                       ("strings", ["Dog, bark", "", "rain,rain , Thunder,"])):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(paper_cut(f"c{i}", "a.wav", t)) + "\n" for i, t in enumerate(tags)))
        fast = scan_tags(path).collect()
        slow = read_cuts(path)
        assert fast["id"].to_list() == slow["id"].to_list()
        assert [[t.strip() for t in ts] for ts in fast["tags"].to_list()] == \
               [[t.strip() for t in ts if t.strip()] for ts in slow["audio_tag"].to_list()]
