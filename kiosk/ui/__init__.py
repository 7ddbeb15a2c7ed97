"""The kiosk's screens: pure layout (`layout.py`) and its pygame drawing (`render.py`)."""
