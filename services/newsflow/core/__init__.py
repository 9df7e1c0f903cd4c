"""What every part of newsflow shares and that needs no broker: records, topics, settings,
article ids, canonical names and the sentence encoder."""
