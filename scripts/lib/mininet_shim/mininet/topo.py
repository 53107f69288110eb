"""mininet.topo: Topo records nodes, links and ports as Mininet's does."""
from mininet import _shim
from mininet.util import irange, natural, naturalSeq


class MultiGraph(object):
    """Just enough of Mininet's MultiGraph."""

    def __init__(self):
        self.node = {}
        self.edge = {}

    def add_node(self, node, attr_dict=None, **attrs):
        attr_dict = {} if attr_dict is None else attr_dict
        attr_dict.update(attrs)
        self.node[node] = attr_dict

    def add_edge(self, src, dst, key=None, attr_dict=None, **attrs):
        attr_dict = {} if attr_dict is None else attr_dict
        attr_dict.update(attrs)
        self.node.setdefault(src, {})
        self.node.setdefault(dst, {})
        self.edge.setdefault(src, {})
        self.edge.setdefault(dst, {})
        self.edge[src].setdefault(dst, {})
        entry = self.edge[dst][src] = self.edge[src][dst]
        if key is None:
            keys = [k for k in entry.keys() if isinstance(k, int)]
            key = max(keys) + 1 if keys else 0
        entry[key] = attr_dict
        # Insertion order, for links() as Mininet lists them.
        self._order = getattr(self, '_order', [])
        self._order.append((src, dst, key))
        return key

    def nodes(self, data=False):
        return list(self.node.items()) if data else list(self.node.keys())

    def edges_iter(self, data=False, keys=False):
        for src, dst, key in getattr(self, '_order', []):
            entry = self.edge[src][dst].get(key)
            if entry is None:
                continue
            if data:
                yield (src, dst, key, entry) if keys else (src, dst, entry)
            else:
                yield (src, dst, key) if keys else (src, dst)

    def edges(self, data=False, keys=False):
        return list(self.edges_iter(data, keys))

    def __getitem__(self, node):
        return self.edge[node]



class Topo(object):
    """Data center network representation for structured multi-trees."""

    def __init__(self, *args, **params):
        self.g = MultiGraph()
        self.hopts = params.pop('hopts', {})
        self.sopts = params.pop('sopts', {})
        self.lopts = params.pop('lopts', {})
        self.ports = {}
        self._mn_counts = [0, 0, 0]
        self.build(*args, **params)

    def build(self, *args, **params):
        "Override this method to build your topology."
        pass

    def addNode(self, name, **opts):
        if name not in self.g.node:
            counts = self._mn_counts
            host = not opts.get('isSwitch')
            counts[0 if host else 1] += 1
            what = 'host' if host else 'switch'
            hosts, nodes = _shim.limits[0], _shim.limits[1]
            if host and counts[0] > hosts:
                raise _shim.ShimError('host %s: the topology would make more than %d hosts; the limit is %d'
                                      % (name, hosts, hosts))
            if counts[0] + counts[1] > nodes:
                raise _shim.ShimError('%s %s: the topology would make more than %d nodes; the limit is %d'
                                      % (what, name, nodes, nodes))
        opts['_mn_at'] = _shim.caller()
        self.g.add_node(name, **opts)
        return name

    def addHost(self, name, **opts):
        if not opts and self.hopts:
            opts = self.hopts
        return self.addNode(name, **opts)

    def addSwitch(self, name, **opts):
        if not opts and self.sopts:
            opts = self.sopts
        result = self.addNode(name, isSwitch=True, **opts)
        return result

    def addLink(self, node1, node2, port1=None, port2=None, key=None, **opts):
        if not opts and self.lopts:
            opts = self.lopts
        self._mn_counts[2] += 1
        if self._mn_counts[2] > _shim.limits[2]:
            raise _shim.ShimError('link: the topology would make more than %d links; the limit is %d'
                                  % (_shim.limits[2], _shim.limits[2]))
        for node in (node1, node2):
            if node not in self.g.node:
                raise _shim.ShimError('addLink(%r, %r): no node %r (add nodes before their links)'
                                      % (node1, node2, node))
        port1, port2 = self.addPort(node1, node2, port1, port2)
        opts = dict(opts)
        opts.update(node1=node1, node2=node2, port1=port1, port2=port2, _mn_at=_shim.caller())
        return self.g.add_edge(node1, node2, key, opts)

    def nodes(self, sort=True):
        if not sort:
            return self.g.nodes()
        return sorted(self.g.nodes(), key=natural)

    def isSwitch(self, n):
        info = self.g.node.get(n, {})
        return info.get('isSwitch', False)

    def switches(self, sort=True):
        return [n for n in self.nodes(sort) if self.isSwitch(n)]

    def hosts(self, sort=True):
        return [n for n in self.nodes(sort) if not self.isSwitch(n)]

    def iterLinks(self, withKeys=False, withInfo=False):
        for _src, _dst, key, info in self.g.edges_iter(data=True, keys=True):
            node1, node2 = info['node1'], info['node2']
            if withKeys:
                yield (node1, node2, key, info) if withInfo else (node1, node2, key)
            else:
                yield (node1, node2, info) if withInfo else (node1, node2)

    def links(self, sort=False, withKeys=False, withInfo=False):
        links = list(self.iterLinks(withKeys, withInfo))
        if not sort:
            return links
        size = 3 if withKeys else 2
        return sorted(links, key=(lambda l: naturalSeq(l[:size])))

    def addPort(self, src, dst, sport=None, dport=None):
        ports = self.ports
        ports.setdefault(src, {})
        ports.setdefault(dst, {})
        if sport is None:
            src_base = 1 if self.isSwitch(src) else 0
            sport = len(ports[src]) + src_base
        if dport is None:
            dst_base = 1 if self.isSwitch(dst) else 0
            dport = len(ports[dst]) + dst_base
        ports[src][sport] = (dst, dport)
        ports[dst][dport] = (src, sport)
        return sport, dport

    def port(self, src, dst):
        ports = [(sport, entry[1]) for sport, entry in self.ports.get(src, {}).items()
                 if entry[0] == dst]
        return ports if len(ports) != 1 else ports[0]

    def _linkEntry(self, src, dst, key=None):
        entry = self.g[src][dst]
        if key is None:
            key = min(entry)
        return entry, key

    def linkInfo(self, src, dst, key=None):
        entry, key = self._linkEntry(src, dst, key)
        return entry[key]

    def setlinkInfo(self, src, dst, info, key=None):
        entry, key = self._linkEntry(src, dst, key)
        entry[key] = info

    def nodeInfo(self, name):
        return self.g.node[name]

    def setNodeInfo(self, name, info):
        self.g.node[name] = dict(info)

    def convertTo(self, cls, data=True, keys=True):
        _shim.not_here('Topo.convertTo')

    def sorted(self, items):
        return sorted(items, key=natural)


# Mininet's own topologies, for files that build on them.
class SingleSwitchTopo(Topo):
    "Single switch connected to k hosts."

    def build(self, k=2, **_opts):
        self.k = k
        switch = self.addSwitch('s1')
        for h in irange(1, k):
            host = self.addHost('h%s' % h)
            self.addLink(host, switch)


class SingleSwitchReversedTopo(Topo):
    "Single switch connected to k hosts, with reversed ports."

    def build(self, k=2):
        self.k = k
        switch = self.addSwitch('s1')
        for h in irange(1, k):
            host = self.addHost('h%s' % h)
            self.addLink(host, switch, port1=0, port2=(k - h + 1))


class MinimalTopo(SingleSwitchTopo):
    "Minimal topology with two hosts and one switch"

    def build(self):
        return SingleSwitchTopo.build(self, k=2)


class LinearTopo(Topo):
    "Linear topology of k switches, with n hosts per switch."

    def build(self, k=2, n=1, **_opts):
        self.k = k
        self.n = n
        if n == 1:
            def genHostName(i, _j):
                return 'h%s' % i
        else:
            def genHostName(i, j):
                return 'h%ss%d' % (j, i)
        lastSwitch = None
        for i in irange(1, k):
            switch = self.addSwitch('s%s' % i)
            for j in irange(1, n):
                host = self.addHost(genHostName(i, j))
                self.addLink(host, switch)
            if lastSwitch:
                self.addLink(switch, lastSwitch)
            lastSwitch = switch
