"""The monitoring stack: Docker Compose or native daemons, rendered configs, status."""
