"""Binary COPY ... TO STDOUT read straight from libpq, in whole fixed-width records.

psycopg's own `Copy` iterator costs ~10 us of Python per message and the
server sends one message per row, which made the client, not the server,
the bottleneck (~50k rows/s at the time). `copy_records` yields buffers of
whole fixed-size rows that the caller views with one numpy record type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from docqa.storage.db import Connection

if TYPE_CHECKING:
    import psycopg

_PG_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def copy_records(
    conn: Connection, query: bytes, row_dtype: np.dtype, batch_rows: int
) -> Iterator[tuple[bytes, int, int]]:
    """(buffer, offset, rows) of whole fixed-size records from a binary COPY, header checked and skipped."""
    row_size = row_dtype.itemsize
    carry = b""
    header_done = False
    for parts in _copy_out(conn.raw, query, batch_rows):
        data = carry + b"".join(parts) if carry else b"".join(parts)
        del parts  # the messages (one batch of memory) go now, not when the next batch is read
        start = 0
        if not header_done:
            if len(data) < 19:
                carry = data
                continue
            if data[:11] != _PG_COPY_SIGNATURE:
                raise ValueError("unexpected COPY stream signature")
            start = 19 + int.from_bytes(data[15:19], "big")
            header_done = True
        n = (len(data) - start) // row_size
        end = start + n * row_size
        carry = data[end:]
        if n:
            yield data, start, n
        del data
    if carry not in (b"", b"\xff\xff"):
        raise ValueError(f"COPY stream ended with {len(carry)} unparsed bytes")


def _copy_out(raw: psycopg.Connection[Any], query: bytes, batch_rows: int) -> Iterator[list[memoryview]]:
    """Run a COPY ... TO STDOUT on a psycopg connection and yield its data messages in lists of `batch_rows`.

    psycopg's own `Copy` iterator costs ~10 us of Python per message and the
    server sends one message per row, which made the client, not the server,
    the bottleneck (~50k rows/s). This loop talks to libpq directly: a non-
    blocking `get_copy_data` per row, a non-blocking read of the socket when
    libpq's buffer is empty, and a `select` (which releases the GIL, so
    searches keep running) only when the socket was empty too.
    """
    import select

    from psycopg import errors, pq

    pgconn = raw.pgconn
    enc = raw.info.encoding

    def wait(readable: bool = True) -> None:
        select.select([pgconn.socket] if readable else [], [] if readable else [pgconn.socket], [])

    def next_result() -> pq.abc.PGresult | None:
        while True:
            pgconn.consume_input()
            if not pgconn.is_busy():
                return pgconn.get_result()
            wait()

    with raw.lock:
        pgconn.send_query(query)
        while pgconn.flush():
            wait(readable=False)
        res = next_result()
        if res is None or res.status != pq.ExecStatus.COPY_OUT:
            while next_result() is not None:
                pass
            raise (
                errors.error_from_result(res, encoding=enc)
                if res is not None
                else errors.InterfaceError("COPY returned nothing")
            )
    get, consume = pgconn.get_copy_data, pgconn.consume_input
    finished = False
    try:
        while not finished:
            parts: list[memoryview] = []
            read_since_data = False
            with raw.lock:  # held while filling a batch, not across the yield (like psycopg's own Copy)
                while len(parts) < batch_rows:
                    nbytes, data = get(1)
                    if nbytes > 0:
                        parts.append(data)
                        read_since_data = False
                    elif nbytes == 0:
                        # read what the socket already holds; select() only when that was nothing
                        # (the server is usually ahead: ~100x fewer select calls, ~20% less client CPU)
                        if read_since_data:
                            wait()
                        consume()
                        read_since_data = True
                    elif nbytes == -1:
                        finished = True
                        break
                    else:
                        raise errors.OperationalError(f"COPY failed: {pgconn.get_error_message()}")
            if parts:
                yield parts
    finally:
        with raw.lock:
            if not finished:  # the consumer stopped early or the stream failed: drain so the connection stays usable
                while get(0)[0] >= 0:
                    pass
            last = None
            while (res := next_result()) is not None:
                last = res
    if last is not None and last.status != pq.ExecStatus.COMMAND_OK:
        raise errors.error_from_result(last, encoding=enc)
