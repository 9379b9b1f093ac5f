"""Stage 1: metadata filtering (duration, language, category, artist, keyword and tutorial rules).

``acav filter`` is the command; :func:`acav.metadata_filtering.runner.filter_file` the library
entry point; :class:`acav.metadata_filtering.rules.LineFilter` applies the rules to one line.
"""
