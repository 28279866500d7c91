"""HTTP handlers by area; each module exposes a `routes` table (see service/http.py)."""
