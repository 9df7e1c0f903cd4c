"""Credentials never come back out of a message: every form a store or broker URL carries a
password in is hidden, and text without one is left as it was."""

import pytest

from newsflow.core.redaction import redacted


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        # A mistyped scheme: the URL is shown back to say what was wrong with it.
        ("postgresq://newsflow:S3cretPW@db:5432/news", "postgresq://newsflow:***@db:5432/news"),
        (
            "postgresql+psycopg://newsflow:S3cretPW@db/news",
            "postgresql+psycopg://newsflow:***@db/news",
        ),
        ("sqlite://user:S3cretPW@host/x", "sqlite://user:***@host/x"),
        # Typed unescaped, a password may hold @ and /.
        ("postgresql://newsflow:S3c@ret/PW@db/news", "postgresql://newsflow:***@db/news"),
        ("postgresql://:S3cretPW@db/news", "postgresql://:***@db/news"),
    ],
)
def test_a_password_in_a_url_is_hidden_whatever_the_scheme(given, shown):
    assert redacted(given) == shown


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (
            "postgresql://newsflow@db/news?sslmode=require&password=S3cretPW&connect_timeout=5",
            "postgresql://newsflow@db/news?sslmode=require&password=***&connect_timeout=5",
        ),
        ("postgresql://db/news?PASSWORD=S3cretPW", "postgresql://db/news?PASSWORD=***"),
        ("postgresql://db/news?sslpassword=S3cretPW", "postgresql://db/news?sslpassword=***"),
        (
            "https://api.example/x?access_token=S3cretPW&a=1",
            "https://api.example/x?access_token=***&a=1",
        ),
        ("jsonl:///data?secret=S3cretPW", "jsonl:///data?secret=***"),
        ("postgresql://db/news?pwd=S3cretPW", "postgresql://db/news?pwd=***"),
    ],
)
def test_secret_query_parameters_are_hidden(given, shown):
    assert redacted(given) == shown


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (
            "host=db user=newsflow password=S3cretPW dbname=news",
            "host=db user=newsflow password=*** dbname=news",
        ),
        ("host=db password='S3cret PW' dbname=news", "host=db password=*** dbname=news"),
        ("host=db password = 'S3c\\'retPW' port=5432", "host=db password = *** port=5432"),
        ("host=db passwd=S3cretPW", "host=db passwd=***"),
    ],
)
def test_libpq_key_value_passwords_are_hidden(given, shown):
    assert redacted(given) == shown


def test_a_password_inside_a_longer_message_is_hidden_and_the_rest_kept():
    message = (
        "invalid settings: NEWSFLOW_SINK_STORE_URL: unsupported store URL "
        "'postgresq://newsflow:S3cretPW@db/news' (got 'postgresq://newsflow:S3cretPW@db/news'); "
        "PostgreSQL at postgresql://db/news?password=S3cretPW connection refused"
    )
    assert redacted(message) == (
        "invalid settings: NEWSFLOW_SINK_STORE_URL: unsupported store URL "
        "'postgresq://newsflow:***@db/news' (got 'postgresq://newsflow:***@db/news'); "
        "PostgreSQL at postgresql://db/news?password=*** connection refused"
    )


def test_a_message_built_from_a_hidden_url_keeps_its_punctuation():
    url = redacted("postgresql://newsflow:S3cretPW@db/news?password=S3cretPW")
    message = f"PostgreSQL at {url}: connection refused"
    assert redacted(message) == message
    assert message == (
        "PostgreSQL at postgresql://newsflow:***@db/news?password=***: connection refused"
    )


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://newsflow@db:5432/news",
        "sqlite:///./data/newsflow.db",
        "jsonl:///data/articles",
        "https://example.com/news?id=42&page=2",
        "max_tokens=512 tokenizer=wordpiece",
        "stored 12 article(s) from 12 record(s) in 0.031s",
    ],
)
def test_text_without_credentials_is_unchanged(text):
    assert redacted(text) == text
