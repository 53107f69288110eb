"""mininet.term: the CLI's x/xterm commands open terminals under mn."""
from mininet import _shim


def makeTerm(node, *args, **kwargs):
    _shim.not_here('makeTerm()')


def makeTerms(nodes, *args, **kwargs):
    _shim.not_here('makeTerms()')
