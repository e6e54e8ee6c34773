"""uts.vocab (being built)."""
