from uts.ontology import Concept, Ontology, dumps, loads, normalize_label


def _mini() -> Ontology:
    return Ontology([
        Concept("UTS:0000001", "music", root=True, domain="music"),
        Concept("UTS:0000002", "percussion", parents=["UTS:0000001"]),
        Concept("UTS:0000003", "hi-hat", synonyms=["hi hat"], parents=["UTS:0000002"]),
        Concept("UTS:0000004", "drum", synonyms=["drums"], parents=["UTS:0000002"]),
        Concept("UTS:0000005", "old drum", deprecated=True, replaced_by=["UTS:0000004"]),
    ])


def test_normalisation_folds_case_separators_and_plurals():
    assert normalize_label("Hi-Hats") == normalize_label("hi_hat") == normalize_label("hihat")
    assert normalize_label("blues") != normalize_label("blue")
    assert normalize_label("Glass") == "glass"


def test_lookup_reports_how_it_matched():
    o = _mini()
    assert [m.matched_by for m in o.lookup("Drum")] == ["label"]
    assert [(m.id, m.matched_by) for m in o.lookup("HI_HATS")] == [("UTS:0000003", "normalized")]
    assert o.lookup("old drum")[0].id == "UTS:0000004"
    assert o.lookup("old drum")[0].matched_by == "replaced"
    assert o.lookup("violin") == []


def test_graph_queries():
    o = _mini()
    assert o.ancestors("UTS:0000003") == {"UTS:0000001", "UTS:0000002"}
    assert o.depth("UTS:0000003") == 2
    assert o.lowest_common_ancestors("UTS:0000003", "UTS:0000004") == {"UTS:0000002"}
    assert o.next_id() == "UTS:0000006"


def test_turtle_round_trip_is_byte_identical():
    text = dumps(_mini())
    again = loads(text)
    assert dumps(again) == text
    assert again.get("UTS:0000003").synonyms == ["hi hat"]
    assert again.get("UTS:0000005").deprecated


def test_atomic_write_keeps_the_file_mode(tmp_path):
    import os
    import stat

    from uts.ontology.files import atomic_write_text

    new = tmp_path / "new.ttl"
    atomic_write_text(new, "a\n")
    assert stat.S_IMODE(new.stat().st_mode) & 0o044, "a new file is readable by others (umask default), not 0600"
    shared = tmp_path / "shared.ttl"
    shared.write_text("old\n")
    os.chmod(shared, 0o664)
    atomic_write_text(shared, "new\n")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o664
    assert shared.read_text() == "new\n"
