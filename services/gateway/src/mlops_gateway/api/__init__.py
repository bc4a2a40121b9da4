"""HTTP API: routers per resource, dependencies, documented error answers."""
