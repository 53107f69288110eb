"""mininet.link: the link classes topology files pass as cls=. Their
parameters (bw, delay, ...) are read by mn_custom.py."""
from mininet import _shim


class Intf(object):
    def __init__(self, name, *args, **params):
        _shim.not_here('%s(%r)' % (type(self).__name__, name))


class TCIntf(Intf):
    pass


class OVSIntf(Intf):
    pass


class Link(object):
    def __init__(self, node1, node2, *args, **params):
        _shim.not_here('%s(...)' % type(self).__name__)


class TCLink(Link):
    pass


class TCULink(TCLink):
    pass


class OVSLink(Link):
    pass
