"""mininet.cli: mn has its own CLI."""
from mininet import _shim


class CLI(object):
    def __init__(self, *args, **kwargs):
        _shim.not_here('CLI(...)')
