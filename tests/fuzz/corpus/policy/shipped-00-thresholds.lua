-- Thresholds the shipped policies share. Tune here, then reload:
--   sluicectl policy check policies/00-thresholds.lua && sluicectl policy reload
-- Every number is a probability or score in [0, 1] unless it says otherwise.

thresholds = {
  -- A detector's signal must reach this before it becomes a tag.
  tag_min = 0.5,
  -- Two emotions this close are ambiguous (a happy hug or a farewell hug?):
  -- both are tagged, at reduced confidence, and neither is trusted alone.
  emotion_margin = 0.15,

  -- Ages (years) bounding the age tags.
  child_below = 13,
  teen_below = 18,
  senior_from = 65,
  -- A likely child on screen always goes to people in the "minors" queue.
  minor_review = 0.6,

  -- nsfw.score from the upstream detector.
  nsfw_reject = 0.9,
  nsfw_review = 0.5,

  -- Keyword lists carry their own severity (plugins/keyword); at or above
  -- reject_severity the upload is refused, at or above review_severity it
  -- goes to people.
  keyword_reject = 0.9,
  keyword_review = 0.5,

  -- Perceptual-hash matches (plugins/phash): Hamming distance in bits.
  hash_reject_distance = 4,
  hash_review_distance = 8,

  -- A creator with this many rejected uploads has every upload looked at.
  repeat_offender_rejections = 3,
}

-- Queue priorities: higher is taken first.
priority = {
  minors = 90,
  hashes = 80,
  nsfw = 70,
  text = 50,
  repeat_offenders = 40,
}
