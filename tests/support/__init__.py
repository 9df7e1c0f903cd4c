"""What the tests share: fixtures (registered in tests/conftest.py), the services under
test as real processes, example records, and the local PostgreSQL server."""
