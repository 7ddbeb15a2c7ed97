"""Hall displays, voice announcements and window LED panel text."""
