"""The bridge between the MQTT contract and serial/GPIO devices (callers, pads, panels, lockers, modem)."""
