// Command server exposes the catalogue over HTTP.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"sync"
)

// Book is one catalogue entry.
type Book struct {
	ISBN   string `json:"isbn"`
	Title  string `json:"title"`
	Author string `json:"author"`
	Year   int    `json:"year"`
}

// Store keeps books in memory, safe for concurrent use.
type Store struct {
	mu    sync.RWMutex
	books map[string]Book
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{books: make(map[string]Book)}
}

func (s *Store) Put(b Book) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.books[b.ISBN] = b
}

func (s *Store) All() []Book {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Book, 0, len(s.books))
	for _, b := range s.books {
		out = append(out, b)
	}
	return out
}

func (s *Store) handleBooks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(s.All()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func main() {
	store := NewStore()
	http.HandleFunc("/books", store.handleBooks)
	log.Fatal(http.ListenAndServe(":8080", nil))
}
