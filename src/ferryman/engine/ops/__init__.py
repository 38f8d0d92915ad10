"""Operations the front doors call (add, control, report, views, watches, nodes,
runtime settings): one place, so every door says the same."""
