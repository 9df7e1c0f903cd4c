"""The entity worker's logic: a transformer NER model fine-tuned by newsflow and run with ONNX
Runtime (or a spaCy model), and canonical names.

`tagging.Tagger` turns article bodies into `EntitiesSection`s; `canonical` resolves the
mentions of one article to one name per entity. Nothing here knows Kafka: the service wraps
it. Training and evaluation live in `newsflow.lab.entities`.
"""
