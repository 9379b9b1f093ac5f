"""Export the selected clips (``output.csv``) as WebDataset shards, and a random twin of the same size."""
