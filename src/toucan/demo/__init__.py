"""Demo content for `toucan-ctl demo`: a synthetic sales dataset and its stories."""
