"""Storage accounting per circle: the objects each circle's bucket holds,
kept in PostgreSQL by the jobs (`store`), read back as figures for the
actions and metrics, and reconciled against the buckets' listings
(`reconcile`). `rules` holds the pure parts."""
