-- Fixture for real_users_seqtest.py: installed after the shipped policies,
-- it takes their wave_done away, so that the seqtest plugin decides alone.
wave_done = nil
