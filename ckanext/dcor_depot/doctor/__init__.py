"""`ckan dcor-depot-doctor`: a running site's configuration, end to end.

- `verdicts` (pure): what a measurement means, the line to print;
- `nginx_conf` (pure over a parsed config): the front server's body limit
  and locations;
- `probes` (I/O): each check against the real S3 server, Redis, queue,
  file systems and the front server;
- `views`: the route through which the front server's X-Accel-Redirect
  location is probed.
"""
