"""cifar_core: data, augmentation, models, training, runs and evaluation for CIFAR-10.

The Streamlit app (``streamlit_app.py`` and ``app_pages/``) and the CLI (``python -m cifar_core``)
are two thin faces of this library; neither holds data or training logic of its own.
"""

__version__ = "0.1.0"
