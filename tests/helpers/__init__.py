"""Helpers shared by the tests: MQTT probe client, test halls, a server under test."""
