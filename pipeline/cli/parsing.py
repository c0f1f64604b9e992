"""An argument parser whose errors are one ``error:`` line with the closest match.

argparse prints its usage and ``prog: error: ...`` on two lines and suggests
nothing. :class:`StrictParser` (and every subcommand parser made from it)
prints one line and exits with status 2, like every other bad input::

    error: unknown option --consumr; did you mean --consumer? (see footprint-map query --help)
    error: argument --by: invalid choice: 'provence' (choose from cell, city, province);
           did you mean province? (see footprint-map query --help)
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence

_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


def closest(word: str, options: Sequence[str], cutoff: float = 0.6) -> str | None:
    """The option closest to ``word`` (difflib ratio at least ``cutoff``), or None."""
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=cutoff)
    return found[0] if found else None


def choice_hint(message: str) -> str:
    """``message`` of an invalid choice, with its choices unquoted and the closest named."""
    match = _CHOICE.search(message)
    if not match:
        return message
    value = match.group(1)
    choices = [c.strip().strip("'\"") for c in match.group(2).split(",")]
    text = _CHOICE.sub(f"invalid choice: '{value}' (choose from {', '.join(choices)})", message)
    near = closest(value, choices, cutoff=0.5)
    return f"{text}; did you mean {near}?" if near else text


class StrictParser(argparse.ArgumentParser):
    """``ArgumentParser`` with one-line errors that suggest the closest option or choice."""

    def parse_args(self, args=None, namespace=None):  # noqa: D102 (argparse's)
        args = sys.argv[1:] if args is None else [str(a) for a in args]
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self._command_parser(args)
            parser.error(unknown_arguments(parser, extras))
        return namespace

    def error(self, message: str):
        """Print ``error: <message>; did you mean ...? (see <prog> --help)`` and exit 2."""
        text = " ".join(choice_hint(str(message)).split())
        sys.stderr.write(f"error: {text} (see {self.prog} --help)\n")
        sys.exit(2)

    def _command_parser(self, args: list[str]) -> argparse.ArgumentParser:
        """The subcommand's parser named in ``args`` (self if none is)."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for token in args:
                    if token in action.choices:
                        return action.choices[token]
        return self


def unknown_arguments(parser: argparse.ArgumentParser, extras: list[str]) -> str:
    """What is wrong with the arguments ``parser`` did not recognise, with the closest option."""
    options = [o for action in parser._actions for o in action.option_strings]
    flags = [e for e in extras if e.startswith("-") and len(e) > 1]
    if not flags:
        return f"unexpected argument(s) {' '.join(repr(e) for e in extras)}"
    parts = []
    for flag in flags:
        near = closest(flag.split("=", 1)[0], options)
        parts.append(f"unknown option {flag}" + (f"; did you mean {near}?" if near else ""))
    return "; ".join(parts)
