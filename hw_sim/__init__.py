"""Simulated devices that speak the real device protocols, over pty pairs or sockets."""
