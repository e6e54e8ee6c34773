"""uts.training (being built)."""
