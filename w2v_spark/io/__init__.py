"""Tables, files and formats: storage, schemas, vectors files."""
