"""Helpers shared by the test modules: the local HTTP server, the CLI-invoke helper and fixtures.

Test modules import from here and never from one another; pytest fixtures live in conftest.py.
"""
