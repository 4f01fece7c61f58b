"""The question benchmark (bench/qa_bench.py): corpus, questions, proxy, tool server, report.

Every module here except `fetch` works offline and without a model server, so tests/test_qa_bench.py
exercises the harness's own logic on small fixtures.
"""
