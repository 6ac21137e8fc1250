"""The integrator API, v1 (see shared/API.md: paths, fields and codes are a contract)."""
