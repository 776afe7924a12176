"""Training and evaluating the behaviour coder on AnnoMI; not needed to score sessions."""
