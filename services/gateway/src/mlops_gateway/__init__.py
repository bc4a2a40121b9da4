"""mlops_gateway: REST API users call: prediction over gRPC, traffic, feedback, jobs, admin."""

__version__ = "0.1.0"
