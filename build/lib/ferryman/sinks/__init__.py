"""Where albums go: each destination kind is one module behind ``SinkKind`` (see base)."""
