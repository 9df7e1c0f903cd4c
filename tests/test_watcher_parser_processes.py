"""The watcher's parser processes: files go in batches, each file keeps its own time budget,
and one file stopped for taking too long costs its batch nothing else."""

from newsflow.records import DeadLetterReason
from newsflow_watcher.parser_processes import ParserPool
from newsflow_watcher.parsing import InputRejected, ParsedFile

ARTICLE = b"Ministers agree new fishing quotas\n\nThe agreement was reached late on Tuesday.\n"
# Nine megabytes of sentences: legitimate, but far past a half-second budget.
SLOW = b"Slow\n\n" + b"The council met again. " * 400_000


def test_a_batch_comes_back_in_order_with_each_files_rejection():
    pool = ParserPool(processes=1, seconds_per_file=10, max_articles=100)
    try:
        answers = pool.parse_many([("a.txt", ARTICLE), ("empty.txt", b""), ("b.md", ARTICLE)])
    finally:
        pool.close()
    first, empty, second = (answer for answer, _ in answers)
    assert isinstance(first, ParsedFile) and first.articles[0].title.startswith("Ministers")
    assert isinstance(empty, InputRejected) and empty.reason is DeadLetterReason.EMPTY_FILE
    assert isinstance(second, ParsedFile) and second.format == "md"
    assert all(seconds >= 0 for _, seconds in answers)


def test_a_file_over_its_budget_is_stopped_and_the_rest_of_its_batch_is_parsed():
    pool = ParserPool(processes=1, seconds_per_file=0.5, max_articles=100)
    try:
        answers = pool.parse_many([("a.txt", ARTICLE), ("slow.txt", SLOW), ("b.txt", ARTICLE)])
        [(again, _)] = pool.parse_many([("c.txt", ARTICLE)])  # the fresh process goes on
    finally:
        pool.close()
    first, slow, last = (answer for answer, _ in answers)
    assert isinstance(first, ParsedFile) and isinstance(last, ParsedFile)
    assert isinstance(slow, InputRejected) and slow.reason is DeadLetterReason.TOO_SLOW
    assert "slow.txt" in slow.message
    assert again.articles[0].body == "The agreement was reached late on Tuesday."
