"""The engine's HTTP API: /health, /metrics, /calls (FastAPI, served by uvicorn)."""
