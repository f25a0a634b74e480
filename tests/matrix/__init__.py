"""The coverage matrix: what the code defines, and which real-service tests cover it."""
