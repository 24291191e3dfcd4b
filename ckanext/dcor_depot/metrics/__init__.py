"""Prometheus metrics at /metrics: counters kept in Redis (`counters`), so
that they add up over every uWSGI process and every worker machine, and
gauges read at scrape time from RQ and the database (`collect`). `rules`
holds the pure parts, `views` the route."""
