"""Parafetch's download engine: plain Python, no Qt, usable headless and from the window."""

import logging

# What the engine logs is for whoever configures logging (the window does); a headless run tells the
# person through its own messages, not through Python's last-resort handler and its tracebacks.
logging.getLogger("parafetch").addHandler(logging.NullHandler())
