"""Look inside a trained model: saliency maps, every mistake, the embedding map, suspect labels and
feature maps. One module per concern; the Explain page and the explain CLI commands call them."""
