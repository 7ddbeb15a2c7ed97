"""The self-service kiosk: screens, ticket printing, camera and document scanning."""
