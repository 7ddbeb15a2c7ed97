"""Pure wire codecs (bytes -> message -> bytes), one module per protocol.

No module here does I/O, reads the clock or keeps global state: the bridge's drivers and
the simulators in `hw_sim` both import them, so a driver and a simulated device can never
disagree on a byte.
"""
