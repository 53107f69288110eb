"""What the stand-in modules share: where a call came from in the user's
files, and the one-line error that stops mn."""
import sys

# The custom files being read (their paths as compiled), set by mn_custom.
files = []
# mn's size bound (set by mn_custom): hosts, nodes, links.
limits = [10000, 12000, 50000]


class ShimError(Exception):
    """A mistake in the user's file: `FILE:LINE: message`, nothing built."""

    def __init__(self, message, where=None):
        Exception.__init__(self, message)
        self.where = where if where is not None else caller()


def caller():
    """(file, line) of the innermost frame in one of the custom files."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename in files:
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None


def unsupported(what, name, value, hint=''):
    raise ShimError('%s: unsupported parameter %s=%s%s' % (what, name, shown(value), hint))


def shown(value):
    """A value as the user wrote it, near enough: classes by name."""
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, str):
        return repr(value)
    return str(value)


def not_here(what):
    raise ShimError('%s is not available under mn --custom: mn reads the file for its topos '
                    'and builds the network itself' % what)
