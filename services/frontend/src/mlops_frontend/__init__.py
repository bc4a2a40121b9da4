"""mlops_frontend: Streamlit app over the gateway."""

__version__ = "0.1.0"
