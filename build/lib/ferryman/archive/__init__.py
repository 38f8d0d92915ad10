"""Reading archives entry by entry, whatever the format or backend."""
