"""The REST gateway of the MLOps platform: predictions over gRPC, traffic, feedback, jobs, admin.

Build it with :func:`mlops_gateway.app.create_app`; run it with ``python -m mlops_gateway``.
"""

__version__ = "0.1.0"
