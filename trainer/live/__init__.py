"""Live practice: running feedback while the role play is recorded.

    audio blocks -> VAD windows (vad) -> roles (roles) -> transcription with context
    (windows) -> utterances coded as they end (session) -> running figures and nudges
    (stats) -> terminal panel (panel, terminal) or the app's Live page

The recording itself is written to disk as it arrives and scored afterwards by the
ordinary pipeline, so the live figures are a preview and the stored session is the
same as for an upload.
"""
