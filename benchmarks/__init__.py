"""Scripts that measure Parafetch against its peers; run them as modules (`python -m benchmarks.NAME`)."""
