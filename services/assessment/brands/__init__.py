"""Brands."""
