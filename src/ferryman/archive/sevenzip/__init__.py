"""7-Zip's console tool (``7zz``) as an archive backend: found, listed, extracted."""
