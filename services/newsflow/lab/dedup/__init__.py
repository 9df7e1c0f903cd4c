"""Training and evaluation of the dedup stage."""
