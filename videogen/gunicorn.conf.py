"""gunicorn settings for `manage.py studio --gunicorn` (`make serve`); the studio passes the bind
address and the number of worker processes on the command line.

Sync workers give each connection a whole process until its request is read: two clients sending
their headers slowly would hold both workers and nobody else is served. Threaded workers park idle
connections in a selector and read a request in one of `threads` threads, so a handful of slow
clients take a few threads and the rest of the site carries on. A reverse proxy that buffers
requests (nginx) in front is still the defence against many slow clients."""

worker_class = "gthread"
threads = 8
# A request taking longer than this gets its worker restarted.
timeout = 30
graceful_timeout = 10
# Seconds an idle kept-alive connection stays open.
keepalive = 5
accesslog = "-"
# Share-link tokens are shortened in the access log, as in Django's.
logger_class = "videogen.log_filters.GunicornLogger"
# Share-link tokens are redacted from the access and error logs.
logger_class = "videogen.log_filters.GunicornLogger"
