"""Stages 4 and 6-7: utterances from attributed words, session metrics and talk time,
feedback against MITI thresholds, and the quality checks that stop a bad recording."""
