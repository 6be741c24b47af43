// Formatting helpers for the bookshelf web page.

/**
 * Render a book as a single line: "Title (Author, Year)".
 * @param {{title: string, author: string, year: number}} book
 */
export function formatBook(book) {
  return `${book.title} (${book.author}, ${book.year})`;
}

export const escapeHtml = (text) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function debounce(fn, waitMs) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), waitMs);
  };
}
