"""Tests of the Qt-free engine."""
