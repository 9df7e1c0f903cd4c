"""The sink: stores every enriched article exactly once, in SQLite, PostgreSQL or JSON Lines,
and answers analysts' questions about what it stored (`newsflow query`)."""
