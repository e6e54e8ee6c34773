"""Map a dataset's label set onto UTS (or any target) and its annotations onto UTS labels.

One module per step, named after it:

- :mod:`~uts.mapping.labelsets` - read label sets (text, CSV/TSV, AudioSet ontology.json, OWL/UTS,
  SSSOM, MTG-Jamendo, Lhotse, id2label JSON) into :class:`~uts.mapping.labelsets.LabelSet`;
- :mod:`~uts.mapping.match` - the matcher (lexical index, embeddings, reranker, guards, repair);
- :mod:`~uts.mapping.sssom` - SSSOM TSV reading and writing;
- :mod:`~uts.mapping.review` - human decisions (accept/reject/pick/predicate), merge on re-run;
- :mod:`~uts.mapping.evaluate` - precision/recall/F1, Hits@k, MRR against gold;
- :mod:`~uts.mapping.apply` - annotations -> UTS labels with ancestor closure (polars);
- :mod:`~uts.mapping.pipeline` - the file-level flow behind ``uts map SOURCE``;
- :mod:`~uts.mapping.calibrate` - fitting the reranker and threshold on gold;
- :mod:`~uts.mapping.text` - normalisation helpers (compound splitting, negation guard).

Embeddings come from :mod:`uts.embedding`.
"""
