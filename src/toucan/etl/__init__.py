"""Data in: readers of uploaded files, data-source storage, preprocess, builder code."""
