"""A tiny spaCy dependency parser trained in seconds on a few parsed sentences (no download)."""

from __future__ import annotations

import random

TRAIN = [("Smith works for Acme .".split(), [1, 1, 1, 2, 1], ["nsubj", "ROOT", "prep", "pobj", "punct"]),
         ("Jones lives in Paris .".split(), [1, 1, 1, 2, 1], ["nsubj", "ROOT", "prep", "pobj", "punct"]),
         ("Ada met Babbage .".split(), [1, 1, 1, 1], ["nsubj", "ROOT", "dobj", "punct"]),
         ("Marie Curie lived in Warsaw .".split(), [1, 2, 2, 2, 3, 2],
          ["compound", "nsubj", "ROOT", "prep", "pobj", "punct"])]


def tiny_parser(iterations: int = 60):
    """spacy.blank("en") with a parser overfit to TRAIN."""
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example

    nlp = spacy.blank("en")
    nlp.add_pipe("parser", config={"min_action_freq": 1})  # every label of the few sentences kept
    examples = [Example(nlp.make_doc(" ".join(w)), Doc(nlp.vocab, words=w, heads=h, deps=d)) for w, h, d in TRAIN]
    rng = random.Random(0)
    spacy.util.fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(iterations):
        rng.shuffle(examples)
        nlp.update(examples, sgd=optimizer, drop=0.0)
    nlp.meta["name"], nlp.meta["version"] = "tiny_parser", "0.0.1"
    return nlp
