"""A seeded toy language with real structure, shared by the chapters (02 word2vec, then the encoder,
the decoder, BERT and GPT).

Sentences are made from templates over a small world:

- **people** on a 2 x 2 x 2 grid: royal or common, adult or young, male or female
  (king, queen, prince, princess, man, woman, boy, girl). Each attribute shows in the words around
  a person: *he/his* or *she/her*; *palace, crown, ...* or *village, market, ...*; *old, reads, ...*
  or *young, plays, ...*.
- **countries**, each with a capital and a language: "paris is the capital of france",
  "people in france speak french", "in paris people speak french".
- **animals**, each with a sound and a home: "the dog barks loudly", "the dog sleeps in the kennel",
  "something barks in the kennel".

Because every word's neighbours are made of its attributes, the differences between words carry
the relations: king - man + woman is queen, france - paris + rome is italy, dog - barks + meows is
cat. ``analogy_questions()`` lists every such question the world holds.

    sentences = generate_corpus(4000, seed=0)   # list of sentences, each a list of lower-case words
"""

from __future__ import annotations

import random
from itertools import permutations

# ---------------------------------------------------------------------------------------------------
# The world
# ---------------------------------------------------------------------------------------------------

#: person -> (royalty, age, gender)
PEOPLE: dict[str, tuple[str, str, str]] = {
    "king": ("royal", "adult", "male"),
    "queen": ("royal", "adult", "female"),
    "prince": ("royal", "young", "male"),
    "princess": ("royal", "young", "female"),
    "man": ("common", "adult", "male"),
    "woman": ("common", "adult", "female"),
    "boy": ("common", "young", "male"),
    "girl": ("common", "young", "female"),
}

#: country -> (capital, language)
COUNTRIES: dict[str, tuple[str, str]] = {
    "france": ("paris", "french"),
    "italy": ("rome", "italian"),
    "germany": ("berlin", "german"),
    "spain": ("madrid", "spanish"),
    "japan": ("tokyo", "japanese"),
    "egypt": ("cairo", "egyptian"),
    "russia": ("moscow", "russian"),
    "greece": ("athens", "greek"),
}

#: animal -> (sound, home)
ANIMALS: dict[str, tuple[str, str]] = {
    "dog": ("barks", "kennel"),
    "cat": ("meows", "sofa"),
    "cow": ("moos", "barn"),
    "duck": ("quacks", "pond"),
    "lion": ("roars", "jungle"),
    "owl": ("hoots", "forest"),
}

_SUBJECT = {"male": "he", "female": "she"}
_POSSESSIVE = {"male": "his", "female": "her"}
_PLACE = {"royal": ["palace", "castle"], "common": ["village", "cottage"]}
_THING = {"royal": ["crown", "jewels"], "common": ["tools", "basket"]}
_AGE_ADJECTIVE = {"adult": ["old", "wise"], "young": ["young", "little"]}
_AGE_VERB = {"adult": ["reads", "works"], "young": ["plays", "laughs"]}
_ADJECTIVE = ["big", "famous", "busy", "sunny"]
_LANGUAGE_ADJECTIVE = ["hard", "beautiful", "rich"]
_SOUND_WHEN = ["loudly", "at night", "all day"]

#: word class -> its words (the classes a plot colours by; function words are left out)
WORD_CLASSES: dict[str, list[str]] = {
    "person": list(PEOPLE),
    "country": list(COUNTRIES),
    "capital": [capital for capital, _ in COUNTRIES.values()],
    "language": [language for _, language in COUNTRIES.values()],
    "animal": list(ANIMALS),
    "sound": [sound for sound, _ in ANIMALS.values()],
    "home": [home for _, home in ANIMALS.values()],
    "pronoun": ["he", "she", "his", "her"],
    "royal or common": sorted({w for words in (*_PLACE.values(), *_THING.values()) for w in words}),
    "adult or young": sorted({w for words in (*_AGE_ADJECTIVE.values(), *_AGE_VERB.values()) for w in words}),
}


def _pairs(attribute: int, first: str, second: str) -> list[tuple[str, str]]:
    """Pairs of people that differ only in one attribute: (the one with `first`, the one with `second`)."""
    pairs = []
    for a, attributes_a in PEOPLE.items():
        for b, attributes_b in PEOPLE.items():
            others_equal = all(attributes_a[i] == attributes_b[i] for i in range(3) if i != attribute)
            if others_equal and attributes_a[attribute] == first and attributes_b[attribute] == second:
                pairs.append((a, b))
    return pairs


#: relation -> pairs (x, y) that stand in it; x - y + y' is x' for any two pairs of one relation
RELATIONS: dict[str, list[tuple[str, str]]] = {
    "royal : common": _pairs(0, "royal", "common"),  # (king, man), (queen, woman), ...
    "adult : young": _pairs(1, "adult", "young"),  # (king, prince), (man, boy), ...
    "male : female": _pairs(2, "male", "female"),  # (king, queen), (man, woman), ...
    "country : capital": [(country, capital) for country, (capital, _) in COUNTRIES.items()],
    "animal : sound": [(animal, sound) for animal, (sound, _) in ANIMALS.items()],
}


def analogy_questions(relations: dict[str, list[tuple[str, str]]] | None = None) -> list[tuple[str, str, str, str]]:
    """Every analogy question of the world, as ``(a, b, c, answer)`` with a - b + c = answer.

    For two pairs (x, y) and (x', y') of one relation the question is x - y + y' = x':
    king - man + woman = queen, france - paris + rome = italy, dog - barks + meows = cat.

    Args:
        relations: relation name -> pairs; ``RELATIONS`` when None.

    Returns:
        a list of (a, b, c, answer) word quadruples, relation by relation.
    """
    questions = []
    for pairs in (RELATIONS if relations is None else relations).values():
        for (x, y), (x2, y2) in permutations(pairs, 2):
            questions.append((x, y, y2, x2))
    return questions


# ---------------------------------------------------------------------------------------------------
# Sentences
# ---------------------------------------------------------------------------------------------------


def _person_sentence(rng: random.Random) -> str:
    person = rng.choice(list(PEOPLE))
    royalty, age, gender = PEOPLE[person]
    template = rng.randrange(4)
    if template == 0:
        return f"{_SUBJECT[gender]} is the {rng.choice(_AGE_ADJECTIVE[age])} {person}"
    if template == 1:
        return f"the {person} lives in the {rng.choice(_PLACE[royalty])}"
    if template == 2:
        return f"the {person} {rng.choice(_AGE_VERB[age])} with {_POSSESSIVE[gender]} {rng.choice(_THING[royalty])}"
    return f"the {rng.choice(_AGE_ADJECTIVE[age])} {person} {rng.choice(_AGE_VERB[age])} in the {rng.choice(_PLACE[royalty])}"


def _country_sentence(rng: random.Random) -> str:
    country = rng.choice(list(COUNTRIES))
    capital, language = COUNTRIES[country]
    template = rng.randrange(6)
    if template == 0:
        return f"{capital} is the capital of {country}"
    if template == 5:
        return f"{language} is a {rng.choice(_LANGUAGE_ADJECTIVE)} language"
    if template == 1:
        return f"people in {country} speak {language}"
    if template == 2:
        return f"in {capital} people speak {language}"
    if template == 3:
        return f"{country} is a {rng.choice(_ADJECTIVE)} country"
    return f"{capital} is a {rng.choice(_ADJECTIVE)} city"


def _animal_sentence(rng: random.Random) -> str:
    animal = rng.choice(list(ANIMALS))
    sound, home = ANIMALS[animal]
    template = rng.randrange(4)
    if template == 0:
        return f"the {animal} {sound} {rng.choice(_SOUND_WHEN)}"
    if template == 1:
        return f"the {animal} sleeps in the {home}"
    if template == 2:
        return f"something {sound} in the {home}"
    return f"a {animal} is an animal"


def _mixed_sentence(rng: random.Random) -> str:
    person = rng.choice(list(PEOPLE))
    if rng.random() < 0.5:
        return f"the {person} has a {rng.choice(list(ANIMALS))}"
    return f"the {person} visits {rng.choice([capital for capital, _ in COUNTRIES.values()])}"


_KINDS = [(_person_sentence, 0.4), (_country_sentence, 0.3), (_animal_sentence, 0.2), (_mixed_sentence, 0.1)]


def generate_corpus(n_sentences: int, seed: int = 0) -> list[list[str]]:
    """Sentences of the toy language, each a list of lower-case words; the same seed gives the same corpus.

    About 40% of the sentences are about people, 30% about countries, 20% about animals and 10% mix
    them ("the queen has a cat", "the boy visits rome"). Sentences have 4 to 7 words.

    Args:
        n_sentences: how many sentences (>= 0).
        seed:        seed of the generator (a private ``random.Random``: global state is untouched).

    Returns:
        a list of ``n_sentences`` sentences, each a list of words (str).
    """
    if n_sentences < 0:
        raise ValueError(f"generate_corpus needs n_sentences >= 0, got {n_sentences}")
    rng = random.Random(seed)
    makers, weights = zip(*_KINDS)
    return [rng.choices(makers, weights)[0](rng).split() for _ in range(n_sentences)]


_TEMPLATE_WORDS = (
    "the is lives in with of capital people speak a country city language sleeps something an animal has visits".split()
)


def vocabulary_words() -> list[str]:
    """Every word the generator can produce, sorted (a Vocabulary's specials are not included)."""
    words = (
        set(_TEMPLATE_WORDS)
        | set(_SUBJECT.values())
        | set(_POSSESSIVE.values())
        | set(_ADJECTIVE)
        | set(_LANGUAGE_ADJECTIVE)
    )
    for table in (_PLACE, _THING, _AGE_ADJECTIVE, _AGE_VERB):
        words.update(w for options in table.values() for w in options)
    words.update(w for phrase in _SOUND_WHEN for w in phrase.split())
    words.update(PEOPLE)
    words.update(w for country, pair in COUNTRIES.items() for w in (country, *pair))
    words.update(w for animal, pair in ANIMALS.items() for w in (animal, *pair))
    return sorted(words)
