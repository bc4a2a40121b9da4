"""Shared library of the MLOps platform.

Everything two services must agree on lives here once: settings conventions, logging,
telemetry, the image/feature preprocessing, the Redis names and encodings, and the
Open Inference Protocol stubs. Importing this package reads nothing and starts nothing.
"""

__version__ = "0.1.0"
