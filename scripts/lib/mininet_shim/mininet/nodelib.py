"""mininet.nodelib"""
from mininet.node import LinuxBridge, NAT, Node  # noqa: F401
