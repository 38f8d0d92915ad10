"""The REST API under ``/api/v1`` (and ``/d/`` links, health): one module of routes a resource."""
