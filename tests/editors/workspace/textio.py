"""Reading and writing text."""


def read_file(path):
    """Read a file and return its text."""
    with open(path, encoding="utf-8") as f:
        return f.read()


class Stack:
    """A last-in, first-out list of items."""

    def __init__(self):
        self.items = []

    def push(self, x):
        """Put x on top."""
        self.items.append(x)
