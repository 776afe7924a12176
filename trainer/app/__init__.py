"""The trainer app's logic: accounts, the store of scored sessions, instructor review,
upload intake and the printable session report; `ui/` draws the pages."""
