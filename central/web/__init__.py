"""Central's web layer: the dashboard's pages and the JSON API on FastAPI (see app.py)."""
