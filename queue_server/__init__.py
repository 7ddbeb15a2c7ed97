"""The queue server: MQTT commands and HTTP API over the pure domain core."""
