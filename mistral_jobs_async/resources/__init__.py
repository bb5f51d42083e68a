"""One class per API resource; reach them through ``AsyncClient``, not directly."""
