"""mininet.net: running a network is mn's job."""
from mininet import _shim


class Mininet(object):
    def __init__(self, *args, **kwargs):
        _shim.not_here('Mininet(...)')


class MininetWithControlNet(Mininet):
    pass
