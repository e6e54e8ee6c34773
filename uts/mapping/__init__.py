"""uts.mapping (being built)."""
