-- policies/00-thresholds.lua: numbers the other files share.
thresholds = { minor_age = 18, keyword_reject = 0.9, established = 1000 }
