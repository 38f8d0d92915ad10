"""Links to media: pages and platforms made into MP4, MP3, M4A or Opus (see ``grab``)."""
