"""Inference Margins: a cost warehouse for AI inference economics."""
