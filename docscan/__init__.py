"""Document scanning for the kiosk's and the windows' document cameras (高拍仪).

Pure image processing, no device I/O: frames come in as BGR numpy arrays and results go
out as plain values. `detect` finds the page's four corners in a frame, `focus` tells
whether the page is sharp enough to capture, `metric` scores a detection against ground
truth the way the ICDAR 2015 SmartDoc challenge did.
"""

from __future__ import annotations
