"""The local web dashboard: MQTT topics in, a live page out (docs/dashboard.md)."""
