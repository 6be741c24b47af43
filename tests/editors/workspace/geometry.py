"""Shapes and measurements."""
import math


def circle_area(radius):
    """Compute the area of a circle from its radius."""
    return math.pi * radius * radius


def add(a, b):
    """Add two numbers."""
    return a + b


def main():
    total = add(1, 2)
