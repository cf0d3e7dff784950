"""Helpers shared by the test suite (fixtures that build real files from the sample corpus)."""
