"""Analytics: one query engine (DuckDB over a dataset version's Parquet), KPI metrics and top combos.

The engine lives in `analytics.engine` and knows nothing about views or models, so pages, exports,
the assistant and bench scripts all sit on the same code (DESIGN.md §6).
"""
