"""Stages 1-2: what was said and when. Audio is decoded, long recordings are cut into
pieces and transcribed with Whisper (words with times); a transcript file is read instead
where one is given."""
