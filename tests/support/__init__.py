"""Shared test helpers: the fault-injecting HTTP test server, its pytest fixture and friends."""
