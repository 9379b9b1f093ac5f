"""Correspondence retrieval: the paper's controlled experiments (section 4.1 of ACAV100M).

Data sets with two views per sample, of which a known half of the pairs correspond; clustering
(stage 5's k-means) and selection (stage 6's greedy MI) plus the baselines rank the pairs; the
metric is the precision at a subset size equal to the number of corresponding pairs.
"""
