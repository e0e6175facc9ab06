"""The `pattern` constraints of AWS's service models are Java regular expressions (AWS checks them with
`java.util.regex`, whole-value matches): `java_pattern` translates one into a Python `re` pattern, or
answers None and keeps the reason in `UNTRANSLATABLE` when it cannot (the check then skips that pattern).

What differs and is translated: Unicode classes `\\p{L}`/`\\P{C}` (and POSIX ones such as `\\p{Alnum}`,
ASCII-only in Java), `\\x{...}`, surrogate pairs `\\uD800\\uDC00` (one code point to Java), `\\z`, `\\Z`,
`\\Q...\\E`, `\\h`, a hyphen after a class escape (`[\\w-.]`: literal in Java), inline flags in mid-pattern
(`(?i)` applies from there on in Java) and `.` (Java's does not match any line terminator). `\\w`, `\\d`,
`\\s` and `\\b` are ASCII in Java: the translation is compiled with `re.ASCII`. Class unions and
intersections (`[a[b]]`, `&&`), `\\p{IsAlphabetic}` and what Python's `re` refuses stay untranslated.
"""

from __future__ import annotations

import re
import sys
import threading
import unicodedata
import warnings
from functools import lru_cache


class Untranslatable(Exception):
    """A Java construct the translation does not render in Python's `re`."""


# Java's POSIX classes are ASCII-only unless UNICODE_CHARACTER_CLASS is set (java.util.regex.Pattern).
POSIX_CLASSES = {
    "ASCII": r"\x00-\x7f",
    "Alnum": "0-9A-Za-z",
    "Alpha": "A-Za-z",
    "Digit": "0-9",
    "Upper": "A-Z",
    "Lower": "a-z",
    "XDigit": "0-9A-Fa-f",
    "Punct": r"!-/:-@\[-`{-~",
    "Graph": r"!-~",
    "Print": r" -~",
    "Blank": r" \t",
    "Space": r" \t\n\x0b\f\r",
    "Cntrl": r"\x00-\x1f\x7f",
}
# Unicode's White_Space property (`\p{IsWhitespace}`) and Java's horizontal whitespace `\h`.
WHITE_SPACE = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
HORIZONTAL_SPACE = r" \t\xa0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000"
VERTICAL_SPACE = r"\n-\r\x85\u2028\u2029"
# Java's `.` stops at every line terminator, Python's only at \n.
JAVA_DOT = r"[^\n\r\x85\u2028\u2029]"
INLINE_FLAGS = re.compile(r"\(\?([imsx]*)(?:-([imsx]+))?\)")

_categories_lock = threading.Lock()
_categories: dict[str, list[tuple[int, int]]] = {}

UNTRANSLATABLE: dict[str, str] = {}  # Java pattern -> why it is skipped


def category_ranges() -> dict[str, list[tuple[int, int]]]:
    """Code point ranges of every Unicode general category (`Lu`, ...) and major class (`L`, ...), built once."""
    with _categories_lock:
        if not _categories:
            found: dict[str, list[tuple[int, int]]] = {}
            for code in range(sys.maxunicode + 1):
                category = unicodedata.category(chr(code))
                for name in (category, category[0]):
                    ranges = found.setdefault(name, [])
                    if ranges and ranges[-1][1] == code - 1:
                        ranges[-1] = (ranges[-1][0], code)
                    else:
                        ranges.append((code, code))
            _categories.update(found)
        return _categories


def render_ranges(ranges: list[tuple[int, int]]) -> str:
    return "".join(
        f"\\U{low:08x}" if low == high else f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges
    )


def complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    gaps: list[tuple[int, int]] = []
    start = 0
    for low, high in sorted(ranges):
        if low > start:
            gaps.append((start, low - 1))
        start = max(start, high + 1)
    if start <= sys.maxunicode:
        gaps.append((start, sys.maxunicode))
    return gaps


def merge(*parts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return complement(complement([r for part in parts for r in part]))


def property_class(name: str, negated: bool) -> str:
    """The members of `\\p{name}` (or `\\P{name}`) as the inside of a Python character class."""
    if name in POSIX_CLASSES or name == "IsWhitespace":
        inside = POSIX_CLASSES.get(name, WHITE_SPACE)
        if not negated:
            return inside
        compiled = re.compile(f"[{inside}]")
        return render_ranges(complement(ranges_of(compiled)))
    categories = category_ranges()
    general = name[2:] if name.startswith("Is") and name[2:] in categories else name
    if general == "all":
        ranges = [(0, sys.maxunicode)]
    elif general == "LD":  # Java's letter-or-digit (Character.isLetterOrDigit)
        ranges = merge(categories["L"], categories["Nd"])
    elif general in categories:
        ranges = categories[general]
    else:
        raise Untranslatable(f"\\p{{{name}}} has no translation")
    return render_ranges(complement(ranges) if negated else ranges)


def ranges_of(compiled: re.Pattern[str]) -> list[tuple[int, int]]:
    """The code points (as ranges) a one-character ASCII class matches; only used on POSIX classes."""
    return merge([(code, code) for code in range(128) if compiled.fullmatch(chr(code))])


def escape(java: str, i: int, in_class: bool) -> tuple[str, int, bool]:
    """Translate the escape at java[i] (a backslash): the Python text, the index after it, and whether it
    is a class escape (`\\w`, `\\p{L}`, ...), after which Java reads a hyphen as a literal."""
    if i + 1 >= len(java):
        raise Untranslatable("trailing backslash")
    letter = java[i + 1]
    if letter in "pP":
        match = re.match(r"\{(\w+)\}|(\w)", java[i + 2 :])
        if not match:
            raise Untranslatable("malformed \\p")
        inside = property_class(match.group(1) or match.group(2), negated=letter == "P")
        return (inside if in_class else f"[{inside}]"), i + 2 + match.end(), True
    if letter == "Q":
        end = java.find("\\E", i + 2)
        literal = java[i + 2 :] if end < 0 else java[i + 2 : end]
        text = "".join(re.escape(c) if c not in "-]" else "\\" + c for c in literal)
        return text, len(java) if end < 0 else end + 2, False
    if letter == "x" and java.startswith("{", i + 2):
        end = java.index("}", i + 3)
        return f"\\U{int(java[i + 3 : end], 16):08x}", end + 1, False
    if letter == "u":
        code = int(java[i + 2 : i + 6], 16)
        low = re.match(r"\\u(d[c-f][0-9a-f]{2})", java[i + 6 : i + 12], re.IGNORECASE)
        if 0xD800 <= code <= 0xDBFF and low:  # a surrogate pair is one code point to Java
            code = 0x10000 + ((code - 0xD800) << 10) + (int(low.group(1), 16) - 0xDC00)
            return f"\\U{code:08x}", i + 12, False
        return f"\\U{code:08x}", i + 6, False
    if letter in "hv":
        inside = HORIZONTAL_SPACE if letter == "h" else VERTICAL_SPACE
        return (inside if in_class else f"[{inside}]"), i + 2, True
    if letter == "e":
        return "\\x1b", i + 2, False
    if not in_class and letter == "z":
        return "\\Z", i + 2, False
    if not in_class and letter == "Z":
        return "(?=\\n?\\Z)", i + 2, False
    if letter in "wWdDsS":
        return java[i : i + 2], i + 2, True
    if letter.isalpha() and letter not in "tnrfabBAx":
        raise Untranslatable(f"\\{letter} has no translation")
    return java[i : i + 2], i + 2, False


def translate(java: str) -> str:
    """The Python `re` text (to compile with re.ASCII) of a Java pattern; Untranslatable when it has none."""
    out: list[str] = []
    scoped_flags = [0]  # per open group: the `(?flags:` groups opened inside it, closed with it
    dotall = "(?s" in java
    in_class = False
    i = 0
    while i < len(java):
        char = java[i]
        if char == "\\":
            text, i, class_escape = escape(java, i, in_class)
            out.append(text)
            if in_class and class_escape and java.startswith("-", i) and not java.startswith("-]", i):
                out.append("\\-")  # `[\w-.]`: Java reads this hyphen as a literal
                i += 1
            continue
        if in_class:
            if char == "[" or java.startswith("&&", i):
                raise Untranslatable("character class union or intersection")
            in_class = char != "]"
            out.append("\\" + char if char in "|~" else char)  # literals to both; Python warns on `||`
            i += 1
            continue
        if char == "[":
            in_class = True
            opening = "[^" if java.startswith("[^", i) else "["
            out.append(opening)
            i += len(opening)
            if java.startswith("]", i):  # a leading `]` is a literal to both
                out.append("\\]")
                i += 1
            continue
        flags = INLINE_FLAGS.match(java, i) if char == "(" else None
        if flags:
            on, off = flags.group(1), flags.group(2)
            if not out and not off:
                out.append(flags.group(0))
            else:  # Java applies mid-pattern flags from there to the end of the group; Python needs a scope
                out.append(f"(?{on}{'-' + off if off else ''}:")
                scoped_flags[-1] += 1
            i = flags.end()
            continue
        if char == "(":
            scoped_flags.append(0)
        elif char == ")":
            if len(scoped_flags) < 2:
                raise Untranslatable("unbalanced parenthesis")
            out.append(")" * scoped_flags.pop())
        elif char == "." and not dotall:
            char = JAVA_DOT
        out.append(char)
        i += 1
    if in_class:
        raise Untranslatable("unterminated character class")
    out.append(")" * scoped_flags[0])
    return "".join(out)


@lru_cache(maxsize=None)
def java_pattern(java: str) -> re.Pattern[str] | None:
    """The compiled translation of a model's pattern (to use with `fullmatch`), or None when it has none
    (the reason is kept in UNTRANSLATABLE)."""
    try:
        text = translate(java)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. FutureWarning on a `[` Python would read differently
            return re.compile(text, re.ASCII)
    except (Untranslatable, re.error, FutureWarning, ValueError) as error:
        UNTRANSLATABLE[java] = str(error)
        return None
