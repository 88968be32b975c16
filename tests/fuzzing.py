"""Shared machinery of the reader fuzz tests (``tests/*/test_fuzz_readers.py``) and of
``benchmarks/fuzz.py``.

The property every reader must keep, whatever bytes it is given: it returns a valid result or
raises :class:`eftgan.errors.UserError` (or a subclass) with a one-line message; no other
exception escapes, and the folder it read from holds the same files afterwards (nothing written,
nothing left behind).

Inputs are a valid sample put through :func:`mutated`: truncation, byte flips, deleted,
duplicated or swapped lines, numbers replaced by NaN, infinities or huge values, re-encoding
(latin-1, UTF-16 with and without BOM, UTF-8 with BOM), files blown up to megabytes, and plain
binary garbage.

The number of cases per reader comes from ``EFTGAN_FUZZ_EXAMPLES`` (default 40, the short run
of ``make test``). With ``EFTGAN_FUZZ_COLLECT=1`` a failing case is recorded in :data:`STATS`
instead of failing the test, so that a long run counts every failure (``benchmarks/fuzz.py``).
"""

from __future__ import annotations

import os
import re
import signal
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from eftgan.errors import UserError

EXAMPLES = int(os.environ.get("EFTGAN_FUZZ_EXAMPLES", "40"))
COLLECT = os.environ.get("EFTGAN_FUZZ_COLLECT") == "1"
#: Seconds one case may take in a collecting run before it counts as a failure (a hang).
CASE_LIMIT_S = float(os.environ.get("EFTGAN_FUZZ_CASE_LIMIT_S", "60"))


class CaseTimeout(BaseException):
    """A case ran past :data:`CASE_LIMIT_S` (a BaseException: readers may catch Exception)."""


def _alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout


def _timed(call: Callable[[], Any]) -> Any:
    """``call()``, interrupted by :class:`CaseTimeout` after :data:`CASE_LIMIT_S` in a
    collecting run (the timer covers the reader alone, not the checks of its result)."""
    if not COLLECT:
        return call()
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, CASE_LIMIT_S)
    try:
        return call()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


#: Per reader: ``cases`` (inputs tried), ``results`` (valid results returned), ``user_errors``,
#: ``failures`` and up to five ``examples`` of failures (exception and input summary).
STATS: dict[str, dict[str, Any]] = {}


def fuzz_settings(examples: int | None = None) -> settings:
    """Hypothesis settings of a fuzz test: ``EXAMPLES`` cases, no deadline, no database."""
    return settings(
        max_examples=examples or EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not COLLECT,  # the short run of make test tries the same cases every time
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
            HealthCheck.large_base_example,
        ],
    )


# -- mutations --------------------------------------------------------------------------------

#: Replacements for a number in a text file.
ODD_NUMBERS = (
    *"nan NaN inf -inf Infinity 1e308 -1e308 1e999 1e-320 0 -0 99999999999999999999999 -1".split(),
    *"1,5 0x10 1_000 ++1 1e . -".split(),
    "",
)
_NUMBER = re.compile(rb"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


def _truncate(data: bytes, draw: Any) -> bytes:
    return data[: draw(st.integers(0, max(len(data) - 1, 0)))]


def _flip_bytes(data: bytes, draw: Any) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
    return bytes(b)


def _edit_lines(data: bytes, draw: Any) -> bytes:
    lines = data.split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "blank"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[i] = b""
    return b"\n".join(lines)


def _odd_number(data: bytes, draw: Any) -> bytes:
    spans = [m.span() for m in _NUMBER.finditer(data)]
    if not spans:
        return data
    for _ in range(draw(st.integers(1, 3))):
        a, b = spans[draw(st.integers(0, len(spans) - 1))]
        data = data[:a] + draw(st.sampled_from(ODD_NUMBERS)).encode() + data[b:]
        spans = [m.span() for m in _NUMBER.finditer(data)]
        if not spans:
            break
    return data


def _reencode(data: bytes, draw: Any) -> bytes:
    text = data.decode("utf-8", errors="replace")
    if draw(st.booleans()):  # a non-ASCII character somewhere (degree sign, angstrom, mu)
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(["µ", "Å", "°", "é", "\u2212", "\ufeff"])) + text[i:]
    enc = draw(
        st.sampled_from(
            ["latin-1", "utf-16", "utf-16-le", "utf-16-be", "utf-8-sig", "utf-32", "cp1252"]
        )
    )
    return text.encode(enc, errors="replace")


def _blow_up(data: bytes, draw: Any) -> bytes:
    """A file of up to a few MB: the sample's lines repeated, or one enormous line."""
    if draw(st.booleans()) and data:
        lines = data.split(b"\n")
        i = draw(st.integers(0, len(lines) - 1))
        reps = draw(st.integers(1_000, 50_000))
        return b"\n".join(lines[: i + 1] + [lines[i]] * reps + lines[i + 1 :])
    junk = draw(st.sampled_from([b"9", b"1.0,", b"A", b" ", b"\t", b"#", b"[", b'{"a":']))
    return data + junk * draw(st.integers(100_000, 3_000_000))


_MUTATIONS: dict[str, Callable[[bytes, Any], bytes]] = {
    "truncate": _truncate,
    "flip": _flip_bytes,
    "lines": _edit_lines,
    "number": _odd_number,
    "encoding": _reencode,
}


@st.composite
def mutated(draw: Any, valid: bytes, huge: bool = True) -> bytes:
    """A variant of the valid file ``valid``: one to three mutations, or garbage, or nothing.

    ``huge=False`` leaves out the multi-megabyte files (for readers whose every case is slow).
    """
    kind = draw(
        st.sampled_from(
            ["valid", "mutate", "mutate", "mutate", "mutate", "garbage", "empty"]
            + (["huge"] if huge else [])
        )
    )
    if kind == "valid":
        return valid
    if kind == "empty":
        return draw(st.sampled_from([b"", b"\n", b" ", b"\x00", b"\xef\xbb\xbf"]))
    if kind == "garbage":
        return draw(st.binary(max_size=4096))
    if kind == "huge":
        return _blow_up(valid, draw)
    data = valid
    for _ in range(draw(st.integers(1, 3))):
        data = _MUTATIONS[draw(st.sampled_from(sorted(_MUTATIONS)))](data, draw)
    return data


def odd_text() -> st.SearchStrategy[str]:
    """Strings a user might type or paste: any text, plus near-misses of the expected syntax."""
    return st.one_of(
        st.text(max_size=60),
        st.text(alphabet="FeNiCoCrMnAlPd0123456789.:-,;()[]+eE _\t", max_size=40),
        st.sampled_from(list(ODD_NUMBERS)),
    )


# -- the property -----------------------------------------------------------------------------


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` with its size and modification time."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st_ = p.stat()
        out[str(p.relative_to(folder))] = (st_.st_size if p.is_file() else -1, st_.st_mtime_ns)
    return out


def _record(reader: str, key: str) -> dict[str, Any]:
    s = STATS.setdefault(
        reader, {"cases": 0, "results": 0, "user_errors": 0, "failures": 0, "examples": []}
    )
    s[key] += 1
    return s


def _fail(reader: str, problem: str, detail: str, exc: BaseException | None = None) -> None:
    s = _record(reader, "failures")
    where = ""
    if exc is not None and exc.__traceback__ is not None:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f" at {Path(frame.filename).name}:{frame.lineno}"
    kinds = s.setdefault("kinds", {})
    kinds[problem + where] = kinds.get(problem + where, 0) + 1
    if kinds[problem + where] == 1 and len(s["examples"]) < 10:
        s["examples"].append(f"{problem}{where}: {detail}"[:600])
    if not COLLECT:
        if exc is not None:
            raise AssertionError(f"{reader}: {problem}: {detail}") from exc
        raise AssertionError(f"{reader}: {problem}: {detail}")


def check_reader(
    reader: str,
    call: Callable[[], Any],
    folder: Path | None = None,
    valid: Callable[[Any], str | None] | None = None,
    note: str = "",
) -> Any:
    """Run ``call()`` and check the property; returns its result (None after a UserError).

    ``folder`` is compared before and after (nothing may be written or removed there);
    ``valid(result)`` returns None for a valid result or a sentence saying what is wrong.
    ``note`` describes the input in failure messages.
    """
    stats = _record(reader, "cases")
    before = listing(folder) if folder is not None else None
    result = None
    start = time.perf_counter()
    try:
        result = _timed(call)
    except CaseTimeout as exc:
        _fail(reader, f"a case took over {CASE_LIMIT_S:g} s", note, exc)
    except UserError as exc:
        _record(reader, "user_errors")
        msg = str(exc)
        if not msg.strip() or "\n" in msg or "\r" in msg:
            _fail(reader, "UserError message is not one line", f"{msg!r} ({note})", exc)
    except Exception as exc:  # the property: nothing else may escape
        _fail(reader, f"{type(exc).__name__} escaped", f"{exc!s:.200} ({note})", exc)
    else:
        problem = valid(result) if valid is not None else None
        if problem:
            _fail(reader, "invalid result", f"{problem} ({note})")
        else:
            _record(reader, "results")
    seconds = time.perf_counter() - start
    if seconds > stats.get("slowest_s", 0.0):
        stats["slowest_s"], stats["slowest"] = round(seconds, 3), note[:200]
    if folder is not None and listing(folder) != before:
        _fail(reader, "files written", f"{sorted(set(listing(folder)) ^ set(before))} ({note})")
    return result


def describe(data: bytes) -> str:
    """A short description of an input for failure messages."""
    return f"{len(data)} bytes, starting {data[:80]!r}"
