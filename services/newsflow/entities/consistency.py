"""One document, one reading of a name: the model's own labels, made consistent in a document.

The CNN sees a few words either side of a token, so a name it labels in one sentence can be
missed or mislabelled in another where the context is thin (a list, a headline in
capitals, "Pompeo said" after "Mike Pompeo"). Within one document the same capitalised
words almost always name the same thing, so after the model has run:

1. an unlabelled repeat of a labelled name gets its label; a repeat in capitals
   ("TURKEY" in a headline, "Turkey" in the text) counts as a repeat;
2. an unlabelled surname (the last word of a person's name of two words or more) is PER;
3. a one-word ORG or MISC that is such a surname is PER.

On CoNLL-2003 dev this adds about half a point of F1 (see the model card); it costs
almost nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from spacy.tokens import Doc, Span

MAX_NAME_TOKENS = 6
PERSON = "PER"
CONFUSED_WITH_PERSON = frozenset({"ORG", "MISC"})

Words = tuple[str, ...]


def _folded(words: Words) -> Words:
    return tuple(word.casefold() for word in words)


def harmonise(doc: Doc) -> None:
    """Apply the three rules to `doc.ents` in place."""
    if not doc.ents:
        return
    labels: dict[Words, Counter[str]] = defaultdict(Counter)
    for span in doc.ents:
        words = tuple(token.text for token in span)
        if len(words) <= MAX_NAME_TOKENS and words[0][:1].isupper():
            labels[words][span.label_] += 1
    surnames = {span[-1].text for span in doc.ents if span.label_ == PERSON and len(span) > 1}
    for surname in surnames:
        labels[(surname,)] = Counter({PERSON: 1})  # rule 2 wins over rule 1 for a surname

    # Candidates by their first word, exact and folded, longest first ("New York Times"
    # before "New York").
    exact: dict[str, list[Words]] = defaultdict(list)
    folded: dict[str, list[Words]] = defaultdict(list)
    for words in sorted(labels, key=len, reverse=True):
        exact[words[0]].append(words)
        folded[words[0].casefold()].append(words)

    taken = [False] * len(doc)
    for span in doc.ents:
        taken[span.start : span.end] = [True] * len(span)
    added: list[Span] = []
    for start, token in enumerate(doc):
        if taken[start]:
            continue
        in_capitals = token.is_upper
        candidates = exact.get(token.text) or (
            folded.get(token.text.casefold(), []) if in_capitals else []
        )
        for words in candidates:
            end = start + len(words)
            if end > len(doc) or any(taken[start:end]):
                continue
            found = tuple(t.text for t in doc[start:end])
            if found != words and not (
                all(t.is_upper or not t.is_alpha for t in doc[start:end])
                and _folded(found) == _folded(words)
            ):
                continue
            added.append(Span(doc, start, end, label=labels[words].most_common(1)[0][0]))
            taken[start:end] = [True] * len(words)
            break
    kept = [
        Span(doc, span.start, span.end, label=PERSON)
        if len(span) == 1 and span.text in surnames and span.label_ in CONFUSED_WITH_PERSON
        else span
        for span in doc.ents
    ]
    doc.ents = sorted([*kept, *added], key=lambda span: span.start)
