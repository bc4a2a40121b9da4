"""Test support: real servers on free ports and the shared pytest fixtures (``testing`` extra)."""
