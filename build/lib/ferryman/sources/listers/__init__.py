"""Watch listers: what a watched source holds now, one module per kind of source
(``base`` has the seam; ``builtin.default_listers`` the kinds ferryman ships)."""
