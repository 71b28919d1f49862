"""tshark under pyshark for `secops.sources.pcap`: the EK lines of a capture, read in batches.

Kept apart from the source so that detecting a format (`PcapSource.sniff`, asked first for every input)
does not import pyshark, lxml and asyncio: 0.1 s of every `egovops ingest`.

A capture owns its event loop and waits for its own tshark (`_Tshark`), so it reads the same from any
thread and leaves asyncio's process-wide state (current loop, child watcher) as it found it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson
import pyshark
from pyshark.tshark.output_parser.tshark_ek import TsharkEkJsonParser

from secops.sources.pcap import FIELDS, PREFERENCES, Layers

_BATCH = 1 << 17
"""Bytes of EK output handed over per event-loop run (about 300 packets)."""
_STDOUT_BLOCK = "1M"
"""tshark's stdout buffer (`stdbuf -o`): larger than the pipe, so each wake-up of Python finds it full."""
_STREAM_LIMIT = 1 << 16
"""Buffer limit of tshark's output streams, asyncio's subprocess default (reading pauses at twice this)."""
_EXIT_GRACE = 5.0
"""Seconds to wait for tshark's exit status once its output has ended, before pyshark kills it."""


class _EkBatchParser(TsharkEkJsonParser):  # type: ignore[misc]
    """Returns the complete EK lines of about `_BATCH` bytes of tshark output at once (`index` lines
    dropped): pyshark runs the event loop once per call, and each run costs as much as decoding a few
    packets."""

    async def get_packets_from_stream(
        self, stream: Any, existing_data: bytes, got_first_packet: bool = True
    ) -> tuple[list[Layers] | None, bytes]:
        chunks, size, ended = [existing_data], len(existing_data), False
        while not ended:  # read at least once: existing_data is only the unfinished last line
            chunk = await stream.read(_BATCH)
            ended = not chunk
            chunks.append(chunk)
            size += len(chunk)
            if size >= _BATCH:
                break
        data = b"".join(chunks)
        end = data.rfind(b"\n")
        if end < 0:
            if ended:  # a partial last line is not a packet
                raise EOFError()
            return None, data
        lines = data[:end].split(b"\n")
        batch = [orjson.loads(line)["layers"] for line in lines if line.startswith(b'{"timestamp"')]
        return batch or None, data[end + 1 :]


class _Tshark:
    """A tshark process as pyshark drives it (`pid`, `returncode`, `kill`, `wait`, `stdout`, `stderr`),
    started by `subprocess` with its pipes read on the capture's loop.

    asyncio's own subprocesses (Python 3.11) are reaped by the process-wide child watcher. The default
    one waits in a thread per child, while pyshark kills a tshark whose status has not reached the loop
    yet and `Popen.kill` first polls (waitpid): when the poll wins, the watcher logs "Unknown child
    process" and reports 255, a TSharkCrashException (cpython#86276). And a capture made on the main
    thread makes pyshark install a SafeChildWatcher bound to that thread's loop, after which captures on
    other threads fail. Here the exit is awaited on a pidfd (Linux 5.3+) in the capture's own loop and
    collected by this Popen alone (`wait`, or the poll in `kill`): no watcher, signal handler or thread.
    """

    def __init__(self, process: subprocess.Popen[bytes], stdout: asyncio.StreamReader,
                 stderr: asyncio.StreamReader, pipes: list[asyncio.BaseTransport]) -> None:  # fmt: skip
        self._process = process
        self.pid = process.pid
        self.stdout = stdout
        self.stderr = stderr
        self._pipes = pipes

    @classmethod
    async def start(cls, command: list[str], stdin: Any) -> _Tshark:
        process = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None and process.stderr is not None
        pipes: list[asyncio.BaseTransport] = []
        stdout = await _stream(process.stdout, pipes)
        stderr = await _stream(process.stderr, pipes)
        return cls(process, stdout, stderr, pipes)

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    def kill(self) -> None:
        self._process.kill()

    async def wait(self) -> int:
        if self._process.poll() is None:
            loop = asyncio.get_running_loop()
            exited = loop.create_future()
            pidfd = os.pidfd_open(self.pid)
            loop.add_reader(pidfd, _settle, exited)
            try:
                await exited
            finally:
                loop.remove_reader(pidfd)
                os.close(pidfd)
        return self._process.wait()

    def close_pipes(self) -> None:
        for pipe in self._pipes:
            pipe.close()


async def _stream(pipe: IO[bytes], transports: list[asyncio.BaseTransport]) -> asyncio.StreamReader:
    """A stream over one of tshark's pipes, read by the running loop; its transport goes to `transports`."""
    reader = asyncio.StreamReader(limit=_STREAM_LIMIT)
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), pipe
    )
    transports.append(transport)
    return reader


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _EkCapture(pyshark.FileCapture):  # type: ignore[misc]
    """pyshark's file capture in EK mode, restricted to FIELDS, read in batches, on an event loop of its
    own (closed by `close`) instead of the thread's current one."""

    def __init__(self, path: Path) -> None:
        params = [arg for name in FIELDS for arg in ("-e", name)]
        super().__init__(
            str(path), keep_packets=False, use_ek=True, custom_parameters=params, override_prefs=PREFERENCES,
            eventloop=asyncio.new_event_loop(),
        )  # fmt: skip

    def close(self) -> None:
        """Clean up tshark (raising its failure, if it failed), then close the loop; once only."""
        if self.eventloop.is_closed():
            return
        try:
            super().close()
        finally:
            self.eventloop.close()

    def __del__(self) -> None:
        """pyshark closes a capture again when it is collected: only the loop may still be open then."""
        if not self.eventloop.is_closed():
            self.eventloop.close()

    def _setup_tshark_output_parser(self) -> _EkBatchParser:
        return _EkBatchParser()

    async def _get_tshark_process(self, packet_count: int | None = None, stdin: Any = None) -> _Tshark:
        """pyshark's own start of tshark, without its `-l` and with stdout written in large blocks.

        `-l` (meant for live captures) flushes stdout after every packet: with tshark and Python on one
        core that is a pipe write, a switch to Python and an event-loop turn per packet (+1.3 s of Python
        and +0.5 s of tshark per 21,000 packets here). Without it stdio still writes 4 KiB blocks, which
        wake Python every ~9 packets (+0.3 s of Python per 21,000); `stdbuf` (coreutils) sets a larger
        block, so Python is woken once per pipe-full. Without `stdbuf` tshark runs as it is.
        """
        self._verify_capture_parameters()
        parameters = [self._get_tshark_path(), "-n", "-T", "ek", *self.get_parameters(packet_count)]
        stdbuf = shutil.which("stdbuf")
        command = [stdbuf, "-o", _STDOUT_BLOCK, *parameters] if stdbuf else parameters
        process = await _Tshark.start(command, stdin)
        self._create_stderr_handling_task(process.stderr)
        self._created_new_process(command, process)
        return process

    async def _cleanup_subprocess(self, process: _Tshark) -> None:
        """pyshark's cleanup, once per process, after waiting for tshark's exit status when its output
        has ended: pyshark kills a tshark whose status has not arrived yet, which would hide a failure
        behind a race."""
        self._running_processes.discard(process)
        try:
            if self._eof_reached:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), _EXIT_GRACE)
            await super()._cleanup_subprocess(process)
        finally:
            process.close_pipes()


def read_layers(path: Path) -> Iterator[Layers]:
    """The EK `layers` object of every packet, through pyshark; tshark's failure is raised at the end."""
    capture = _EkCapture(path)
    try:
        for batch in capture:
            yield from batch
    finally:
        capture.close()
