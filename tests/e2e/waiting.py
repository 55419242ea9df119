"""The one polling helper of the e2e suites (a condition checked every `interval`, never a bare
sleep standing in for it)."""

import time


def wait_for(check, what, timeout=15.0, interval=0.05):
    """Calls check() until it is done and returns its value; AssertionError after `timeout`
    seconds, naming `what` and the last value seen.

    check() returns either a (done, value) pair (bool first), to report progress while not
    done, or a plain value that is done when truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        result = check()
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], bool):
            done, last = result
        else:
            done, last = bool(result), result
        if done:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s; last: %r"
                                 % (timeout, what, last))
        time.sleep(interval)
