"""The catalogue: books, loans and searches."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path


@dataclass
class Book:
    """A book in the catalogue."""

    isbn: str
    title: str
    author: str
    year: int
    tags: list[str] = field(default_factory=list)


class Catalog:
    """All books of the library, indexed by ISBN."""

    def __init__(self) -> None:
        self.books: dict[str, Book] = {}
        self.loans: dict[str, date] = {}

    def add(self, book: Book) -> None:
        if book.isbn in self.books:
            raise ValueError(f"duplicate ISBN {book.isbn}")
        self.books[book.isbn] = book

    def find_by_author(self, author: str) -> list[Book]:
        needle = author.lower()
        return [b for b in self.books.values() if needle in b.author.lower()]

    def search_titles(self, words: str) -> list[Book]:
        """Books whose title contains every word of the query (case-insensitive)."""
        terms = words.lower().split()
        return [b for b in self.books.values() if all(t in b.title.lower() for t in terms)]

    def lend(self, isbn: str, today: date, days: int = 21) -> date:
        if isbn not in self.books:
            raise KeyError(isbn)
        if isbn in self.loans:
            raise ValueError(f"{isbn} is already lent")
        due = today + timedelta(days=days)
        self.loans[isbn] = due
        return due

    def overdue(self, today: date) -> list[Book]:
        return [self.books[i] for i, due in self.loans.items() if due < today]

    def give_back(self, isbn: str) -> None:
        self.loans.pop(isbn, None)


def load_books_csv(path: Path) -> list[Book]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [Book(r["isbn"], r["title"], r["author"], int(r["year"]), r.get("tags", "").split(";"))
            for r in rows]


def save_catalog_json(catalog: Catalog, path: Path) -> None:
    data = [vars(b) for b in catalog.books.values()]
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def read_config(path: Path) -> dict:
    """Read the JSON configuration file, returning an empty dict when it does not exist."""
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))
