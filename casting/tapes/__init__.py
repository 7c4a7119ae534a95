"""Self-tapes: videos talent record at home, uploaded in resumable parts, checked and made watchable by the
worker, attached to a self-tape audition invitation or a casting-call submission."""
