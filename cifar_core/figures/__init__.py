"""Pictures built from our data, free of Streamlit: Plotly figures of runs and studies, and image grids.

``runs`` draws a run's curves, confusion and per-class scores; ``studies`` a study's per-variant
intervals and curves; ``images`` turns 32x32 uint8 tensors into PIL images large enough to see.
The pages, the CLI and the report scripts all draw through these, so a figure looks the same everywhere.
"""
