"""The package's logger ("agentic_sandbox"), with `logging` imported on first use.

Why: importing logging (traceback, linecache, tokenize, textwrap, string, weakref) is ~5 ms of
every script's start, and a with-block that goes well logs nothing. Debug lines are written only
when the program has imported logging itself (only then can it have asked for them); warnings
import it, and reach stderr through logging's last-resort handler as before.
"""

import sys


def logger():
    import logging

    return logging.getLogger("agentic_sandbox")


def debug(msg: str, *args) -> None:
    if "logging" in sys.modules:
        logger().debug(msg, *args)


def warning(msg: str, *args) -> None:
    logger().warning(msg, *args)


def exception(msg: str, *args) -> None:
    logger().exception(msg, *args)
