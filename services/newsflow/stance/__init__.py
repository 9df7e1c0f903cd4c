"""The stance worker: labels each article against claims (its headline, its story's lead
headline, the operators' claims file) with FNC-1's agree, disagree, discuss, unrelated."""
