"""Reusable ComponentResources, one module per thing it gives the user."""
