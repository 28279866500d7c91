"""Presentation: how rows become the JSON bodies and CSV rows of API.md, per area."""
