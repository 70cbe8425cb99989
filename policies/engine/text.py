"""How long a justification is, in characters a reader can see.

Counted: every character except whitespace (Unicode's, including no-break and ideographic
spaces), control and format characters (category C*: zero-width spaces and joiners, direction
marks, soft hyphens, tags, byte-order marks, unassigned and private-use code points), combining
marks (category M*: they only decorate a character that is counted on its own) and the letters
and symbols Unicode draws as blanks (Hangul fillers, the blank Braille pattern). So twenty
invisible or blank characters are a justification of length 0, and "café" written with a
combining accent is 4 like its precomposed form.
"""

from __future__ import annotations

import unicodedata

# Letters and symbols (categories Lo, So) that render as nothing or as a blank.
BLANK_GRAPHICS = frozenset({"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"})


def visible_length(text: str) -> int:
    """The number of visible characters in `text`."""
    return sum(
        1
        for char in text
        if not char.isspace() and char not in BLANK_GRAPHICS and unicodedata.category(char)[0] not in "CMZ"
    )
