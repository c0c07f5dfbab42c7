"""The ``rag`` command's errors as one line each, on stderr, with exit status 2 (``user_errors``
for a ``RagError``).

``error_line`` writes a ``RagError`` so; ``OneLineGroup`` makes click's usage mistakes (a
missing argument, an unknown option or command, a bad value) the same, where click would
print the usage line and a hint on lines of their own first. ``--help`` is left as it is, and
so is ``rag`` alone, which shows the help. Trade-off: the usage line no longer comes with a
mistake; the hint to ``--help`` that ends the line says where it is.
"""

from __future__ import annotations

import functools
import sys

import click

from rag.errors import RagError
from rag.validation import escaped


def error_line(error: BaseException) -> str:
    """``Error: ...`` on one line: a newline or another control character in the message (a
    path typed with one, a library's detail) is escaped, so one error is one line."""
    return f"Error: {escaped(str(error))}"


class OneLineUsage:
    """Usage mistakes (a missing argument, an unknown option or command, a bad value) as one
    line, ``Error: ... Try 'rag ask --help'.``, exit status 2. Click prints the usage line and
    the hint on lines of their own before the error; ``--help`` itself is left as it is, and
    so is ``rag`` alone, which shows the help."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as error:
            raise _one_line(error) from None
        except ValueError as error:
            # click's Path type stats what it is given, and os.stat raises this for "a\0b"
            if "null byte" not in str(error):
                raise
            command_path = f"{parent.command_path} {info_name}" if parent is not None else info_name
            raise click.UsageError(
                f"A path holds a NUL byte, which no path can hold. Try '{command_path} --help'."
            ) from None

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            raise _one_line(error) from None


def _one_line(error: click.UsageError) -> click.UsageError:
    if isinstance(error, click.exceptions.NoArgsIsHelpError) or error.ctx is None:
        return error
    hint = f" Try '{error.ctx.command_path} --help'."
    plain = click.UsageError(escaped(error.format_message()) + hint)  # no context: click prints this line alone
    plain.exit_code = error.exit_code
    return plain


class OneLineCommand(OneLineUsage, click.Command):
    """A command whose usage mistakes are one line (``OneLineUsage``)."""


class OneLineGroup(OneLineUsage, click.Group):
    """The ``rag`` group: its own usage mistakes and its commands' are one line."""

    command_class = OneLineCommand


def user_errors(command):
    """Turn RagError into one line on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except RagError as error:
            click.echo(error_line(error), err=True)
            sys.exit(2)

    return wrapper
