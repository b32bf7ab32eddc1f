# -*- coding: latin-1 -*-
"""A module saved in latin-1, with its encoding cookie."""

GREETING = "café"


def shout(text):
    # Commentaire accentué: à la façon
    return text.upper() + "!"


def unused():
    return "naïve"


def main():
    shout(GREETING)
