"""Training and evaluation of the entities stage."""
