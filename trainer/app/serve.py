"""The trainer app's server: Streamlit running streamlit_app.py, plus the sign-in cookie and recording routes.

`trainer app` runs it (`streamlit run` on this file); `trainer/app/web.py` has the routes.
"""

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from trainer.app.web import ROUTES, MediaGuard, lifespan

app = st.App(
    Path(__file__).with_name("streamlit_app.py"), routes=ROUTES, middleware=[Middleware(MediaGuard)], lifespan=lifespan
)
