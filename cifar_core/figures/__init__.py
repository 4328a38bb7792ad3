"""Pictures built from our data, free of Streamlit: Plotly figures of runs, studies and paired runs, and image grids.

``runs`` draws a run's curves, confusion and per-class scores; ``studies`` a study's per-variant
intervals, curves and grid heatmap; ``calibration`` the reliability diagram; ``paired`` two runs'
confusion difference and per-class deltas; ``images`` turns 32x32 uint8 tensors into PIL images
large enough to see. The pages and the report script (``scripts/study_report.py``) draw through
these, so a figure looks the same everywhere.
"""
