-- Loads fine.
first = true
