"""The one error format of every TeachBench console script.

    <prog>: error: <key>: <message> (allowed: ...)

one line on stderr, exit status 2, no traceback. Code raises
:class:`~envs.errors.TeachBenchError` for bad input; only an entry point catches it, via
:func:`report_errors`. Argument parsers come from :func:`one_line_parser`, whose errors
are TeachBenchErrors too (argparse's own print the usage block). Anything that is not
bad input is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import errno
import re
import sys
from typing import Any, Callable

from envs.errors import TeachBenchError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
# Filesystem errors that are the user's setup, not a bug: one line naming the path.
SETUP_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR}


def one_line(text: str) -> str:
    """``text`` with its lines joined by ``; `` (Hydra's and SB3's messages span lines)."""
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise TeachBenchError naming the argument."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        match = re.match(r"argument ([^:]+): (.*)", message)
        if match:
            raise TeachBenchError(match.group(1).split("/")[0], match.group(2))
        match = re.match(r"(unrecognized arguments|the following arguments are required): (.*)", message)
        if match:
            raise TeachBenchError(match.group(2).split(",")[0].split()[0], match.group(1))
        raise TeachBenchError("arguments", message)


def one_line_parser(prog: str, **kwargs: Any) -> argparse.ArgumentParser:
    """The argument parser of a TeachBench console script."""
    return OneLineParser(prog=prog, **kwargs)


def setup_error(exc: BaseException) -> TeachBenchError | None:
    """A read-only, full or misplaced folder as one line naming the path, else None."""
    if isinstance(exc, OSError) and exc.errno in SETUP_ERRNOS:
        return TeachBenchError(str(exc.filename or "path"), f"cannot write there: {exc.strerror}")
    return None


def report_errors(prog: str, body: Callable[[], int | None],
                  translate: Callable[[BaseException], TeachBenchError | None] | None = None) -> int:
    """Run ``body`` and return its exit status; bad input (a TeachBenchError, or what
    ``translate`` recognises as one) is printed as the one line and gives status 2."""
    try:
        code = body()
    except SystemExit as exc:  # --help, or a library that exits on its own
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt as exc:  # Ctrl-C: what was interrupted (the runner's message, if any), no traceback
        print(f"{prog}: {one_line(str(exc)) or 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BaseException as exc:  # noqa: BLE001 - only bad input is caught; anything else is re-raised
        error = exc if isinstance(exc, TeachBenchError) else (translate(exc) if translate is not None else None)
        if error is None:
            error = setup_error(exc)
        if error is None:
            raise
        print(f"{prog}: error: {one_line(str(error))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return int(code or 0)
