"""A per-user download list: files collected across datasets and fetched
as one archive (rules, storage in PostgreSQL, and its web pages)."""
