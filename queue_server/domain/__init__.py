"""The pure domain core: numbering, calling discipline, estimates; no I/O, clock or randomness."""
