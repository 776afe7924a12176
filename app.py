"""Streamlit entry from a source checkout: `streamlit run app.py` (the app is trainer/app/streamlit_app.py)."""

from trainer.app.streamlit_app import main

# Streamlit runs this file as __main__; the guard keeps a worker process started by
# multiprocessing's spawn (which re-imports the main module) from running the app.
if __name__ == "__main__":
    main()
