-- Never reached.
third = true
