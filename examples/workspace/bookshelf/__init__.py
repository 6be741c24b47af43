"""Bookshelf: a tiny library catalogue."""
