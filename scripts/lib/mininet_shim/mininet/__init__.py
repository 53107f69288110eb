"""A stand-in for Mininet's package, enough to read custom topology files.

mn --custom FILE runs FILE with these modules on its path: `Topo` records
the topology, and mn_custom.py hands it to mn, which builds it with its
own tools. Only what topology files use is here; running a network
(`Mininet(...)`, `CLI(...)`) is mn's job and says so.
"""
VERSION = '2.3.0 (mn tools shim)'
