"""Yichuang: queue management for government service halls (CLI and shared parts)."""
