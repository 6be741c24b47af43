"""Statistics over the catalogue."""
from __future__ import annotations

from collections import Counter
from statistics import median

from bookshelf.catalog import Book, Catalog


def books_per_decade(catalog: Catalog) -> dict[int, int]:
    counts = Counter((b.year // 10) * 10 for b in catalog.books.values())
    return dict(sorted(counts.items()))


def median_year(books: list[Book]) -> float:
    if not books:
        raise ValueError("no books")
    return median(b.year for b in books)


def top_authors(catalog: Catalog, n: int = 5) -> list[tuple[str, int]]:
    return Counter(b.author for b in catalog.books.values()).most_common(n)


def tag_cloud(catalog: Catalog) -> dict[str, float]:
    counts = Counter(t for b in catalog.books.values() for t in b.tags if t)
    total = sum(counts.values()) or 1
    return {tag: count / total for tag, count in counts.items()}
