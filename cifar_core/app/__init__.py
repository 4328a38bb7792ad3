"""The logic behind the app's pages that needs no Streamlit, so it is tested without a browser.

``lab`` (the Augmentation lab's settings, previews and captions), ``sources`` (which data sources
a user may open, and which one the app starts with), ``train_form`` (the Train form as data and
the one mapping from it to a run's config) and ``uploads`` (a user's picture turned into exactly
the 32x32 image the model sees). Streamlit glue lives in ``cifar_core.ui``.
"""
