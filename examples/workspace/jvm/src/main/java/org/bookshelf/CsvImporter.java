package org.bookshelf;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Imports books from a CSV export of the old library system. */
public class CsvImporter {
    private final char separator;

    public CsvImporter(char separator) {
        this.separator = separator;
    }

    /** Parse one CSV line into its fields; quotes are not supported. */
    public List<String> splitLine(String line) {
        List<String> fields = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (char c : line.toCharArray()) {
            if (c == separator) {
                fields.add(current.toString().trim());
                current.setLength(0);
            } else {
                current.append(c);
            }
        }
        fields.add(current.toString().trim());
        return fields;
    }

    public List<List<String>> readAll(Path path) throws IOException {
        List<List<String>> rows = new ArrayList<>();
        try (BufferedReader reader = Files.newBufferedReader(path)) {
            String line;
            while ((line = reader.readLine()) != null) {
                if (!line.isBlank()) {
                    rows.add(splitLine(line));
                }
            }
        }
        return rows;
    }
}
