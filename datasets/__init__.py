"""Datasets: uploads turned into typed, versioned Parquet.

``datasets.ingest`` is the Django-free ingestion engine (sniff, map, load, receipt); the rest of
the app wraps it with models, tasks and pages.
"""
