"""mininet.util: the helpers topology files use."""
import os
import re
from functools import partial


def irange(start, end):
    """Inclusive range from start to end (vs. Python insanity.)"""
    return range(start, end + 1)


def natural(text):
    "To sort sanely/alphabetically: sorted( l, key=natural )"
    def num(s):
        return int(s) if s.isdigit() else s
    return [num(s) for s in re.split(r'(\d+)', str(text))]


def naturalSeq(t):
    return [natural(x) for x in t]


def checkInt(s):
    try:
        int(s)
        return True
    except ValueError:
        return False


def checkFloat(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def makeNumeric(s):
    if checkInt(s):
        return int(s)
    elif checkFloat(s):
        return float(s)
    return s


def splitArgs(argstr):
    """Split argument string into usable python arguments
       argstr: argument string with format fn,arg2,kw1=arg3...
       returns: fn, args, kwargs"""
    split = argstr.split(',')
    fn = split[0]
    params = split[1:]
    args = [makeNumeric(s) for s in params if '=' not in s]
    kwargs = {}
    for s in [p for p in params if '=' in p]:
        key, val = s.split('=', 1)
        kwargs[key] = makeNumeric(val)
    return fn, args, kwargs


def custom(cls, **params):
    "Returns customized constructor for class cls."
    def customized(*args, **kwargs):
        kwargs = kwargs.copy()
        kwargs.update(params)
        return cls(*args, **kwargs)
    customized.__name__ = 'custom(%s,%s)' % (cls, params)
    customized._mn_cls = cls
    customized._mn_params = params
    return customized


def specialClass(cls, prepend=None, append=None, defaults=None, override=None):
    return custom(cls, **(defaults or {}))


def customClass(classes, argStr):
    cname, args, kwargs = splitArgs(argStr)
    cls = classes.get(cname, None)
    if not cls:
        raise Exception("error: %s is unknown - please specify one of %s" % (cname, classes.keys()))
    if not args and not kwargs:
        return cls
    return specialClass(cls, append=args, defaults=kwargs)


def buildTopo(topos, topoStr):
    topo, args, kwargs = splitArgs(topoStr)
    if topo not in topos:
        raise Exception('Invalid topo name %s' % topo)
    return topos[topo](*args, **kwargs)


def ipStr(ip):
    w = (ip >> 24) & 0xff
    x = (ip >> 16) & 0xff
    y = (ip >> 8) & 0xff
    z = ip & 0xff
    return "%i.%i.%i.%i" % (w, x, y, z)


def ipNum(w, x, y, z):
    return (w << 24) | (x << 16) | (y << 8) | z


def ipAdd(i, prefixLen=8, ipBaseNum=0x0a000000):
    imax = 0xffffffff >> prefixLen
    assert i <= imax, 'Not enough IP addresses in the subnet'
    mask = 0xffffffff ^ imax
    ipnum = (ipBaseNum & mask) + i
    return ipStr(ipnum)


def ipParse(ip):
    args = [int(arg) for arg in ip.split('.')]
    while len(args) < 4:
        args.insert(len(args) - 1, 0)
    return ipNum(*args)


def netParse(ipstr):
    prefixLen = 0
    if '/' in ipstr:
        ip, pf = ipstr.split('/')
        prefixLen = int(pf)
    else:
        ip = ipstr
    return ipParse(ip), prefixLen


def _colonHex(val, bytecount):
    pieces = []
    for i in range(bytecount - 1, -1, -1):
        piece = ((0xff << (i * 8)) & val) >> (i * 8)
        pieces.append('%02x' % piece)
    return ':'.join(pieces)


def macColonHex(mac):
    return _colonHex(mac, 6)


def numCores():
    return os.cpu_count() or 1


def dumpNodeConnections(nodes):
    pass


def dumpNetConnections(net):
    pass


def waitListening(*args, **kwargs):
    pass


def quietRun(cmd, **kwargs):
    from mininet import _shim
    _shim.not_here('quietRun')


errRun = errFail = quietRun
