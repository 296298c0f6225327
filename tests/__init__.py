"""Parafetch test suite: mirrors engine/ and gui/; helpers live in tests/support."""
