"""Streamlit entry from a source checkout: `streamlit run app.py` (the app is trainer/app/streamlit_app.py)."""

from trainer.app.streamlit_app import main

main()
