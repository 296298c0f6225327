"""Tests of the Qt window (pytest-qt, offscreen)."""
