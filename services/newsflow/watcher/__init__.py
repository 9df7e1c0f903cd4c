"""The watcher: every article file dropped into the inbox reaches `articles.raw` once,
complete, or is quarantined in `failed/` with a reason and a dead letter."""
