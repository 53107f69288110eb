"""Runs Mininet custom topology files for mn --custom, without Mininet.

Usage: mn_custom.py RECORDS MAX_HOSTS MAX_NODES MAX_LINKS TOPO FILE...

Executes each FILE as Mininet's mn does (its own globals, `topos` merged),
builds TOPO ("name[,arg,...,key=value]") from the `topos` dict, and writes
the topology to RECORDS in topo-run.sh's record format: the line of the
file the call came from, the verb and its words, separated by 0x1f. On fd
3 it writes the file that defines the topology, then "stp" when the
switches form a loop.

Exit status: 0 written; 1 a mistake, said in one line on stderr as
`FILE:LINE: what`; 3 TOPO is not in the files' topos (their names on fd 3).
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mininet import _shim  # noqa: E402
from mininet.link import Link, TCLink  # noqa: E402
from mininet.node import Host, LinuxBridge, Switch  # noqa: E402
from mininet.topo import Topo  # noqa: E402
from mininet.util import natural, splitArgs  # noqa: E402

SHAPING = ('bw', 'delay', 'jitter', 'loss', 'max_queue_size')
LINK_CLASSES = (Link, TCLink)


def fail(message, where=None):
    if where:
        message = '%s:%d: %s' % (where[0], where[1], message)
    else:
        message = 'mn: %s' % message
    sys.stderr.write(message.replace('\n', ' ') + '\n')
    sys.exit(1)


def innermost(tb, files):
    """(file, line) of the traceback's innermost frame in the files."""
    where = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in files:
            where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return where


def python_error(exc, files):
    if isinstance(exc, _shim.ShimError):
        fail(str(exc), exc.where)
    if isinstance(exc, SyntaxError) and exc.filename in files:
        fail('%s: %s' % (type(exc).__name__, exc.msg), (exc.filename, exc.lineno or 0))
    text = str(exc)
    fail('%s%s' % (type(exc).__name__, ': ' + text if text else ''), innermost(exc.__traceback__, files))


def is_class(value, classes):
    cls = getattr(value, '_mn_cls', value)
    return isinstance(cls, type) and issubclass(cls, classes)


def word(what, key, value):
    text = str(value)
    if not text or any(c in text for c in ' \t\n\x1f#'):
        raise _shim.ShimError('%s: %s=%s: a value needs no blanks and no #' % (what, key, _shim.shown(value)))
    return text


def host_words(name, info, where, cmds):
    words = []
    what = 'addHost(%r)' % name
    for key, value in sorted(info.items()):
        if value is None or key.startswith('_mn') or key == 'isSwitch':
            continue
        if key == 'ip':
            ip = word(what, key, value)
            words.append('ip=' + (ip if '/' in ip else ip + '/8'))
        elif key == 'mac':
            words.append('mac=' + word(what, key, value))
        elif key == 'defaultRoute':
            route = str(value)
            cmds.append((where, name, 'ip route replace default ' + (route if ' ' in route else 'dev ' + route)))
        elif key == 'cls' and is_class(value, Host) and not getattr(value, '_mn_params', None):
            pass
        elif key == 'inNamespace' and value:
            pass
        elif key in ('cpu', 'cores', 'sched', 'period_us'):
            raise _shim.ShimError('%s: unsupported parameter %s=%s (use mn --host cfs,cpu=F for every host)'
                                  % (what, key, _shim.shown(value)), where)
        else:
            raise _shim.ShimError('%s: unsupported parameter %s=%s' % (what, key, _shim.shown(value)), where)
    return words


def switch_words(name, info, where, state):
    what = 'addSwitch(%r)' % name
    for key, value in sorted(info.items()):
        if value is None or key.startswith('_mn') or key == 'isSwitch':
            continue
        if key == 'dpid':
            pass  # a Linux bridge has no datapath id
        elif key == 'cls' and (value is Switch or is_class(value, LinuxBridge)):
            # custom(LinuxBridge, stp=True) asks for spanning tree.
            state['stp'] = state['stp'] or bool(getattr(value, '_mn_params', {}).get('stp'))
        elif key == 'stp':
            state['stp'] = state['stp'] or bool(value)
        else:
            raise _shim.ShimError('%s: unsupported parameter %s=%s (mn builds Linux bridges)'
                                  % (what, key, _shim.shown(value)), where)
    return []


def link_words(topo, info):
    node1, node2 = info['node1'], info['node2']
    where = info.get('_mn_at')
    what = 'addLink(%r, %r)' % (node1, node2)
    words = []
    names = {}
    for key, value in sorted(info.items()):
        if key in ('node1', 'node2', 'port1', 'port2') or key.startswith('_mn') or value is None:
            continue
        try:
            if key == 'loss' and not value:
                pass  # as Mininet's TCIntf: no loss, no netem
            elif key in SHAPING:
                words.append('%s=%s' % (key, word(what, key, value)))
            elif key in ('intfName1', 'intfName2'):
                names[key[-1]] = word(what, key, value)
            elif key == 'cls':
                if not is_class(value, LINK_CLASSES):
                    raise _shim.ShimError('%s: unsupported parameter cls=%s (Link, TCLink)'
                                          % (what, _shim.shown(value)))
                for k, v in sorted(getattr(value, '_mn_params', {}).items()):
                    if k not in SHAPING:
                        raise _shim.ShimError('%s: unsupported parameter cls=%s with %s=%s'
                                              % (what, _shim.shown(value), k, _shim.shown(v)))
                    words.append('%s=%s' % (k, word(what, k, v)))
            elif key in ('params1', 'params2') and isinstance(value, dict):
                for k, v in sorted(value.items()):
                    if k != 'ip':
                        raise _shim.ShimError('%s: unsupported parameter %s=%r (only ip)' % (what, key, value))
                    ip = word(what, key, v)
                    words.append('ip%s=%s' % (key[-1], ip if '/' in ip else ip + '/8'))
            else:
                raise _shim.ShimError('%s: unsupported parameter %s=%s' % (what, key, _shim.shown(value)))
        except _shim.ShimError as e:
            e.where = where
            raise
    intf1 = names.get('1', '%s-eth%s' % (node1, info['port1']))
    intf2 = names.get('2', '%s-eth%s' % (node2, info['port2']))
    return ['intf1=' + intf1, 'intf2=' + intf2] + words


def has_loop(topo):
    """Whether the switches and their links form a cycle (union-find)."""
    parent = {}

    def root(n):
        while parent.setdefault(n, n) != n:
            n = parent[n]
        return n
    for node1, node2 in topo.links():
        if topo.isSwitch(node1) and topo.isSwitch(node2):
            a, b = root(node1), root(node2)
            if a == b:
                return True
            parent[a] = b
    return False


def main(argv):
    out, limits, topo_str, files = argv[1], argv[2:5], argv[5], argv[6:]
    _shim.limits[:] = [int(n) for n in limits]
    # The paths as compiled: frames name them so.
    _shim.files[:] = files
    meta = os.fdopen(3, 'w')
    topos, defined_in = {}, {}
    for path in files:
        try:
            with open(path) as f:
                source = f.read()
        except OSError as e:
            fail('--custom %s: %s' % (path, e.strerror))
        customs = {'__file__': path}
        try:
            exec(compile(source, path, 'exec'), customs, customs)
        except SystemExit as e:
            fail('--custom %s: the file called exit(%s)' % (path, e.code))
        except BaseException as e:  # noqa: B902 (any error in the user's file)
            python_error(e, files)
        found = customs.get('topos', {})
        if not isinstance(found, dict):
            fail('--custom %s: topos is not a dict' % path)
        for name in found:
            defined_in[name] = path
        topos.update(found)
    name, args, kwargs = splitArgs(topo_str)
    if name not in topos:
        meta.write(''.join('%s\n' % n for n in topos))
        meta.close()
        return 3
    try:
        topo = topos[name](*args, **kwargs)
        if not isinstance(topo, Topo):
            fail('--topo %s: topos[%r] made %s, not a Topo' % (topo_str, name, type(topo).__name__))
        records, state = emit(topo)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: B902
        python_error(e, files)
    with open(out, 'w') as f:
        for line, verb, words in records:
            f.write('\x1f'.join([str(line), verb] + words) + '\n')
    meta.write(defined_in[name] + '\n')
    if state['stp'] or has_loop(topo):
        meta.write('stp\n')
    meta.close()
    return 0


def emit(topo):
    """Hosts, switches (natural order), links and commands, as Mininet's
    buildFromTopo makes them."""
    records, cmds, state = [], [], {'stp': False}
    line = (lambda where: where[1] if where else 0)
    for name in topo.hosts():
        info = topo.nodeInfo(name)
        where = info.get('_mn_at')
        records.append((line(where), 'host', [name] + host_words(name, info, where, cmds)))
    for name in topo.switches():
        info = topo.nodeInfo(name)
        where = info.get('_mn_at')
        records.append((line(where), 'switch', [name] + switch_words(name, info, where, state)))
    for node1, node2, info in topo.links(sort=True, withInfo=True):
        records.append((line(info.get('_mn_at')), 'link', [node1, node2] + link_words(topo, info)))
    for where, name, cmd in cmds:
        records.append((line(where), 'cmd', [name] + cmd.split()))
    for _line, _verb, words in records:
        for w in words:
            if '\n' in w or '\x1f' in w:
                raise _shim.ShimError('%r: a name or value holds a newline' % w)
    return records, state


if __name__ == '__main__':
    sys.exit(main(sys.argv))
