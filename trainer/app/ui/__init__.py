"""Page drawing for the Streamlit app (app.py): widgets and views only, no business logic."""
