"""Helpers shared by the Streamlit pages: translations, session state, sidebar, charts.

Nothing in this package imports TensorFlow, so drawing a page stays fast.
"""
