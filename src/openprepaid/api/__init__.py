"""FastAPI application: REST under /api/v1, authentication and roles, OpenAPI."""
