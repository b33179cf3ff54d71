"""Terminal progress bars for the management commands, drawn by tqdm."""

from __future__ import annotations

import time
from typing import Protocol

from django.core.management.base import OutputWrapper
from tqdm import tqdm


class _Stream(Protocol):
    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


class _RawWriter:
    """tqdm redraws with a bare carriage return: Django's OutputWrapper would add a newline to each redraw."""

    def __init__(self, stream: OutputWrapper | _Stream) -> None:
        self._stream = stream

    def write(self, text: str) -> None:
        if isinstance(self._stream, OutputWrapper):
            self._stream.write(text, ending="")
        else:
            self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()


class TerminalBar:
    """One tqdm bar redrawn in place; a new label closes the last bar on its own line and starts another."""

    def __init__(self, stream: OutputWrapper | _Stream, *, label_width: int) -> None:
        self._file = _RawWriter(stream)
        self._label_width = label_width
        self._bar: tqdm | None = None
        self._label = ""

    def bar_update(
        self, *, label: str, done: int, total: int | None, elapsed: float | None = None, postfix: str = ""
    ) -> None:
        if self._bar is None or label != self._label:
            self.bar_close()
            self._label = label
            self._bar = tqdm(
                total=total,
                desc=label.ljust(self._label_width),
                file=self._file,
                ascii=".#",
                ncols=None,
                dynamic_ncols=False,
                # Redraw on every call: the callers already call once per batch, not once per record.
                mininterval=0,
                miniters=1,
                smoothing=0,
                disable=False,
                leave=True,
                # Not drawn at 0 on creation: the first update draws it (a positive delay defers that first draw).
                delay=1e-9,
                bar_format="{desc} [{bar:30}] {n_fmt}/{total_fmt} {rate_fmt} ETA {remaining}{postfix}",
                unit="",
            )
        bar = self._bar
        if elapsed is not None:
            # The caller's clock started before the bar (a resumed or counted run): rate and ETA follow it.
            bar.start_t = time.time() - elapsed
        bar.total = total
        bar.set_postfix_str(postfix, refresh=False)
        bar.update(done - bar.n)

    def bar_close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
