"""Audio-visual pretraining on an exported subset and linear evaluation of the frozen encoders."""
