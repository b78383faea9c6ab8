"""A gzip writer that compresses on every core and still gives the same bytes on every machine.

What `pigz` does, in Python's own zlib (which releases the GIL while it compresses): the stream is cut into
blocks of BLOCK_BYTES, each block is deflated on its own with the last 32 KiB of the block before it as its
dictionary, and ended with a sync flush (the last one with a final block); the pieces are written in order as
one gzip member, with the CRC-32 and the size of the whole stream in its trailer. Every gzip reader reads it
(RFC 1951: a deflate stream may be any series of blocks; RFC 1952: one member).

Why it is byte-reproducible: a block's output depends only on its bytes, its dictionary (bytes of the input)
and the level, never on which thread compressed it or how many there were; the header carries mtime 0 and no
name. zlib's output for a given input, level and window is the same on every CPU (it has one deflate code
path, unlike ISA-L's per-instruction-set ones, which is why servekit does not use python-isal here).
"""

from __future__ import annotations

import functools
import io
import os
import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

BLOCK_BYTES = 1 << 20  # the unit of work: big enough that the per-block restart costs little ratio
DICT_BYTES = 32 * 1024  # deflate's window: a block may refer this far back into the one before it


def _deflate(block: bytes, zdict: bytes, level: int, last: bool) -> tuple[bytes, int]:
    """The block deflated (and its CRC-32: both run outside the GIL, on the worker)."""
    compressor = (zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=zdict) if zdict
                  else zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS))
    data = compressor.compress(block) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
    return data, zlib.crc32(block)


def _gf2_times(matrix: list[int], vector: int) -> int:
    out, i = 0, 0
    while vector:
        if vector & 1:
            out ^= matrix[i]
        vector >>= 1
        i += 1
    return out


def _gf2_compose(outer: list[int], inner: list[int]) -> list[int]:
    return [_gf2_times(outer, column) for column in inner]


@functools.lru_cache(maxsize=8)
def _zeros_operator(length: int) -> list[int]:
    """The GF(2) matrix (as 32 columns) that a CRC-32 register goes through over `length` zero bytes."""
    result = [1 << i for i in range(32)]
    base = [0xEDB88320] + [1 << i for i in range(31)]  # one zero bit (zlib's crc32.c, reflected polynomial)
    bits = 8 * length
    while bits:
        if bits & 1:
            result = _gf2_compose(base, result)
        base = _gf2_compose(base, base)
        bits >>= 1
    return result


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A+B from those of A and B and B's length: zlib's crc32_combine (crc32.c), which Python's
    zlib module does not expose. The operator per length is cached: nearly every block is BLOCK_BYTES long."""
    if len2 <= 0:
        return crc1
    return _gf2_times(_zeros_operator(len2), crc1) ^ crc2


class ParallelGzipWriter(io.RawIOBase):
    """A writable file object: bytes written to it reach `raw` gzip-compressed at `level`, by `workers`
    threads (default: the CPUs this process may use). It holds about 2 x (workers + 2) blocks of BLOCK_BYTES at
    a time, input and output. close() writes the last block and the trailer (and does not close `raw`)."""

    def __init__(self, raw: io.RawIOBase | io.BufferedIOBase, *, level: int = 6, workers: int | None = None):
        super().__init__()
        if not 0 <= level <= 9:
            raise ValueError(f"gzip level {level} is not 0-9")
        self._raw = raw
        self._level = level
        if workers is None:
            workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self._workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="servekit-gzip")
        self._pending: deque[tuple[Future[tuple[bytes, int]], int]] = deque()
        self._buffer = bytearray()
        self._dict = b""
        self._crc = 0
        self._size = 0
        # RFC 1952 header: deflate, no flags, mtime 0, XFL as Python's gzip writes it, OS unknown (255).
        xfl = 2 if level == 9 else 4 if level == 1 else 0
        raw.write(b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + bytes([xfl, 255]))

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        """Uncompressed bytes written so far (tarfile asks)."""
        return self._size

    def write(self, data) -> int:  # noqa: ANN001 - bytes-like, as io's write
        view = memoryview(data).cast("B")
        self._size += len(view)
        if not self._buffer and len(view) == BLOCK_BYTES:  # tarfile's 1 MiB copies: one block, one copy
            self._submit(bytes(view), last=False)
            return len(view)
        self._buffer += view
        while len(self._buffer) >= BLOCK_BYTES:
            block = bytes(self._buffer[:BLOCK_BYTES])
            del self._buffer[:BLOCK_BYTES]
            self._submit(block, last=False)
        return len(view)

    def _submit(self, block: bytes, *, last: bool) -> None:
        self._pending.append((self._pool.submit(_deflate, block, self._dict, self._level, last), len(block)))
        self._dict = (self._dict + block)[-DICT_BYTES:] if len(block) < DICT_BYTES else block[-DICT_BYTES:]
        while len(self._pending) > self._workers + 1:  # memory: about 2 x (workers + 2) MiB in flight
            self._write_next()

    def _write_next(self) -> None:
        future, length = self._pending.popleft()
        data, crc = future.result()
        self._raw.write(data)
        self._crc = crc32_combine(self._crc, crc, length)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._submit(bytes(self._buffer), last=True)
            self._buffer.clear()
            while self._pending:
                self._write_next()
            self._raw.write(struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF))
        finally:
            self._pool.shutdown(wait=True)
            super().close()
