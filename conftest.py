"""Root conftest: the monorepo's shared fixtures (free ports, Redis, MLflow) for every test."""

pytest_plugins = ["mlops_common.testing.pytest_plugin"]
