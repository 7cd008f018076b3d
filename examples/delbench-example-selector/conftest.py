# Fixtures delbench_embeddings, delbench_pool, delbench_request and delbench_register.
pytest_plugins = ["delbench.testing"]
