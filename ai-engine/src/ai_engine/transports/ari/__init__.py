"""ARI (Asterisk REST Interface): REST requests and the events WebSocket, built on asyncari."""
