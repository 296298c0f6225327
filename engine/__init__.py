"""Parafetch's download engine: plain Python, no Qt, usable headless and from the window."""
