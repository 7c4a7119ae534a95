"""The kernel: what every domain builds on (errors, paging, sorting, text, numbers, OpenAPI, jobs, logs, the
embedded servers, ...). It imports no domain; domains import it. Imports nothing itself, so the gunicorn
master can use `casting.kernel.embedded` without loading Flask."""
