"""Training and evaluation of the stance stage."""
