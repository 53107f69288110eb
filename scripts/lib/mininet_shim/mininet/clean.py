"""mininet.clean: mn -c cleans up after mn."""
from mininet import _shim


def cleanup():
    _shim.not_here('cleanup()')


class Cleanup(object):
    @classmethod
    def cleanup(cls):
        _shim.not_here('Cleanup.cleanup()')
