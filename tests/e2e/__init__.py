"""The end-to-end harness: a generated corpus dropped into the inbox of the whole pipeline on
a real broker, faults injected while it runs, and checks of what the store holds against
what the corpus says it must. `python -m tests.e2e run|chaos` and tests/deploy/test_e2e.py
use it."""
