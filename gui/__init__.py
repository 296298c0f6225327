"""Parafetch's Qt window: models, views, panels and the bridge that polls the engine."""

from gui.compat import protect_singletons

SINGLETONS_PROTECTED = protect_singletons()  # PySide6 6.12.0 on Python 3.11: see gui/compat.py
