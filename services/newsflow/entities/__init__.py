"""The entity worker's logic: a spaCy NER model trained by newsflow, and canonical names.

`tagging.Tagger` turns article bodies into `EntitiesSection`s; `canonical` resolves the
mentions of one article to one name per entity; `evaluation` scores the model conlleval-style.
Nothing here knows Kafka: the service wraps it.
"""
