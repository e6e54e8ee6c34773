"""File-level matching, as ``uts map SOURCE`` runs it: read both label sets, match, keep earlier
review decisions, write the SSSOM file, the candidates and the unmapped report."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from uts.embedding import Embedder
from uts.ontology.files import atomic_write_text

from .labelsets import LabelSet, read_labelset, uts_target
from .match import MatchConfig, Matcher, MatchResult, candidates_set, to_mapping_set, unmapped
from .pivot import match_via_uts
from .review import merge_reviewed
from .sssom import SSSOMError, read_sssom, write_sssom
from .verify import verify


@dataclass
class MatchSummary:
    output: Path
    candidates: Path | None
    unmapped_report: Path
    labels: int
    mapped: int
    kept_reviewed: int
    results: list[MatchResult]
    # Reviewed rows kept for subjects that are not labels of this source: usually the file was
    # made with other ids (another --name), so its reviewed rows did not apply.
    kept_elsewhere: int = 0
    verified: object | None = None  # uts.mapping.verify.VerifyStats when a verifier ran

    @property
    def unmapped(self) -> int:
        return self.labels - self.mapped


def sibling(out: Path, kind: str) -> Path:
    """``x.sssom.tsv`` -> ``x.<kind>.sssom.tsv`` / ``x.<kind>.tsv``."""
    name = out.name
    stem = name[: -len(".sssom.tsv")] if name.endswith(".sssom.tsv") else name.rsplit(".", 1)[0]
    suffix = ".sssom.tsv" if kind == "candidates" else ".tsv"
    return out.with_name(f"{stem}.{kind}{suffix}")


def load_target(path: str | Path | None = None, format: str | None = None) -> LabelSet:
    """The target label set: UTS by default, any readable label set otherwise."""
    if path is None:
        return uts_target()
    return read_labelset(path, format)


def write_unmapped(path: Path, results: list[MatchResult], decided: set[str] | None = None) -> None:
    """TSV of labels left without a mapping, with the reason and the best rejected candidate."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(["subject_id", "subject_label", "reason", "best_candidate", "best_candidate_label", "confidence"])
    for r in results:
        if r.decided or (decided is not None and r.subject.id in decided):
            continue
        best = r.candidates[0] if r.candidates else None
        w.writerow([r.subject.id, r.subject.label, r.reason or "",
                    best.object_id if best else "", best.object_label if best else "",
                    f"{best.probability:.3f}" if best else ""])
    atomic_write_text(path, buf.getvalue())


def match_files(source: LabelSet, target: LabelSet, out: str | Path, candidates_k: int = 0,
                model: str | None = None, config: MatchConfig | None = None,
                progress: bool = False, context: str | None = None, domain: str | None = None,
                via_uts: bool = False, verifier=None, verify_k: int = 3) -> MatchSummary:
    """Match ``source`` onto ``target`` and write ``out`` (SSSOM); ``context``/``domain`` as in
    :meth:`Matcher.match`; ``via_uts`` also maps through UTS (:mod:`uts.mapping.pivot`);
    ``verifier`` (:mod:`uts.mapping.verify`) confirms or rejects each label's top ``verify_k``. An existing ``out`` is read
    first: its reviewed rows are kept and its rejected pairs are never proposed again."""
    out = Path(out)
    previous = None
    if out.exists():
        try:
            previous = read_sssom(out)
        except SSSOMError as exc:
            raise SSSOMError(f"{out} exists but is not a readable mapping file ({exc}); "
                             "move it away or choose another output") from exc
    config = config or MatchConfig()
    if candidates_k:
        config.candidates = max(config.candidates, candidates_k)
    matcher = Matcher(target, Embedder(model), config)
    rejected = previous.rejected_pairs() if previous else set()
    if via_uts and "UTS" not in target.curie_map:  # mapping onto UTS itself needs no pivot

        uts = Matcher(uts_target(), matcher.embedder, MatchConfig(collective=config.collective))
        results = match_via_uts(matcher, uts, source, rejected, progress, context=context, domain=domain)
    else:
        results = matcher.match(source, rejected=rejected, progress=progress, context=context, domain=domain)
    verified = None
    if verifier is not None:
        verified = verify(results, verifier, target, config.accept, verify_k, context or source.context)
    mset = to_mapping_set(results, source, target, model=str(model) if model else None)
    merged = merge_reviewed(mset, previous)
    write_sssom(out, merged)
    cand_path = None
    if candidates_k:
        cand_path = sibling(out, "candidates")
        write_sssom(cand_path, candidates_set(results, source, target, candidates_k))
    unmapped_path = sibling(out, "unmapped")
    write_unmapped(unmapped_path, results, set(merged.decided()))
    source_ids = {r.subject.id for r in results}
    kept = [m for m in merged.mappings if m.reviewed]
    return MatchSummary(out, cand_path, unmapped_path, len(results),
                        len(source_ids & set(merged.decided())), len(kept), results,
                        sum(1 for m in kept if m.subject_id not in source_ids), verified)


__all__ = ["MatchSummary", "match_files", "load_target", "sibling", "unmapped"]
