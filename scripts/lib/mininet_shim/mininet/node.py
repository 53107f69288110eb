"""mininet.node: the classes topology files name (cls=...). mn builds
hosts as namespaced shells and switches as Linux bridges; the names are
here so that files import and mention them."""
from mininet import _shim


class Node(object):
    def __init__(self, name, *args, **params):
        _shim.not_here('%s(%r)' % (type(self).__name__, name))


class Host(Node):
    pass


class CPULimitedHost(Host):
    pass


class Switch(Node):
    dpidLen = 16


class OVSSwitch(Switch):
    pass


OVSKernelSwitch = OVSSwitch


class OVSBridge(OVSSwitch):
    pass


class UserSwitch(Switch):
    pass


class IVSSwitch(Switch):
    pass


class LinuxBridge(Switch):
    pass


class Controller(Node):
    pass


class OVSController(Controller):
    pass


class NOX(Controller):
    pass


class Ryu(Controller):
    pass


class RemoteController(Controller):
    pass


def DefaultController(name, **kwargs):
    return Controller(name, **kwargs)


def NullController(*_args, **_kwargs):
    return None


class NAT(Node):
    pass
