"""Default lexicons (data files): ``<category>.txt``, UTF-8, one term per line, ``#`` comments.

Loaded by ``services.rules.text.lexicon.Lexicon.default()`` through importlib.resources.
"""
