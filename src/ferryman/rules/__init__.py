"""The pipeline's decisions as pure functions of facts: which albums to seal, how a job
ends. The store gathers the facts and writes the answers (SQLite, PostgreSQL, memory
alike); these modules never read or write anything, so they are tested alone."""
