"""uts.training: manifests and audio, synthetic corpus, encoders, hierarchy-aware objectives, trainer, evaluation."""
