// HTTP client for the bookshelf service.

export interface Book {
  isbn: string;
  title: string;
  author: string;
  year: number;
}

export type SortKey = "title" | "author" | "year";

/** Fetch every book from the service and parse the JSON body. */
export async function fetchBooks(baseUrl: string): Promise<Book[]> {
  const response = await fetch(`${baseUrl}/books`);
  if (!response.ok) {
    throw new Error(`GET /books failed: ${response.status}`);
  }
  return (await response.json()) as Book[];
}

export function sortBooks(books: Book[], key: SortKey): Book[] {
  return [...books].sort((a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0));
}

export class BookCache {
  private entries = new Map<string, Book>();

  constructor(private readonly ttlMs: number) {}

  put(book: Book): void {
    this.entries.set(book.isbn, book);
  }

  get(isbn: string): Book | undefined {
    return this.entries.get(isbn);
  }
}
