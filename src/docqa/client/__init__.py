"""A Python client for `docqa serve`: the library API's methods over HTTP, with the library's result types.

    from docqa.client import Client

    with Client("http://127.0.0.1:8003", api_key="...") as docqa:
        written = docqa.add_document([ChunkInput(text="The fridge is at 4 °C.", ordinal=0)], document_id="fridge")
        hits = docqa.search("fridge temperature", mode="hybrid", k=3, min_seq=written.seq)
        answer = docqa.ask("How cold is the fridge?")

Errors are docqa's own (`docqa.errors`), rebuilt from the service's error bodies (`NotFound`, `InvalidInput`,
`Unauthorized`...); a 503 (degraded, database unavailable, rebuild failing) is retried with exponential backoff
before it is raised.
"""

from docqa.client.client import Client
from docqa.client.transport import RetryPolicy

__all__ = ["Client", "RetryPolicy"]
