"""tinyformer.corpus: the toy language is seeded, well formed, and holds the relations it promises."""

import random

import pytest

from tinyformer.corpus import (
    ANIMALS,
    COUNTRIES,
    PEOPLE,
    RELATIONS,
    WORD_CLASSES,
    analogy_questions,
    generate_corpus,
    vocabulary_words,
)


def test_same_seed_same_corpus_other_seed_other_corpus():
    assert generate_corpus(200, seed=3) == generate_corpus(200, seed=3)
    assert generate_corpus(200, seed=3) != generate_corpus(200, seed=4)


def test_generation_leaves_the_global_random_state_alone():
    random.seed(0)
    expected = random.random()
    random.seed(0)
    generate_corpus(50, seed=1)
    assert random.random() == expected


def test_sentences_are_lists_of_lower_case_words_of_4_to_7_words():
    corpus = generate_corpus(2000, seed=0)
    assert len(corpus) == 2000 and generate_corpus(0) == []
    assert all(isinstance(s, list) and 4 <= len(s) <= 7 for s in corpus)
    assert all(isinstance(w, str) and w == w.lower() and w.isalpha() for s in corpus for w in s)


def test_vocabulary_words_are_exactly_the_words_produced():
    produced = {w for s in generate_corpus(5000, seed=0) for w in s}
    assert produced == set(vocabulary_words())
    classified = {w for words in WORD_CLASSES.values() for w in words}
    assert classified <= produced
    assert sum(len(words) for words in WORD_CLASSES.values()) == len(classified), "a word is in two classes"


def test_capitals_languages_and_sounds_go_with_their_own_country_and_animal():
    for sentence in generate_corpus(3000, seed=2):
        text = " ".join(sentence)
        if " is the capital of " in text:
            capital, country = sentence[0], sentence[-1]
            assert COUNTRIES[country][0] == capital
        if sentence[:2] == ["people", "in"]:
            assert COUNTRIES[sentence[2]][1] == sentence[-1]
        if sentence[0] == "the" and sentence[1] in ANIMALS and sentence[2] not in ("sleeps", "is"):
            assert ANIMALS[sentence[1]][0] == sentence[2]
        if sentence[0] in ("he", "she"):
            assert PEOPLE[sentence[-1]][2] == {"he": "male", "she": "female"}[sentence[0]]


def test_relations_pair_words_differing_in_one_attribute():
    assert ("king", "queen") in RELATIONS["male : female"] and ("man", "woman") in RELATIONS["male : female"]
    assert ("king", "man") in RELATIONS["royal : common"]
    assert ("king", "prince") in RELATIONS["adult : young"]
    assert ("france", "paris") in RELATIONS["country : capital"]
    assert all(len(pairs) >= 4 for pairs in RELATIONS.values())


def test_analogy_questions_hold_the_classics():
    questions = analogy_questions()
    assert ("king", "man", "woman", "queen") in questions
    assert ("france", "paris", "rome", "italy") in questions
    assert ("dog", "barks", "meows", "cat") in questions
    assert len(questions) == sum(len(p) * (len(p) - 1) for p in RELATIONS.values())
    assert all(len(set(q)) == 4 for q in questions)
    assert analogy_questions({"r": [("a", "b"), ("c", "d")]}) == [("a", "b", "d", "c"), ("c", "d", "b", "a")]


def test_negative_size_is_refused():
    with pytest.raises(ValueError, match="n_sentences"):
        generate_corpus(-1)
