"""The one exception type for problems the user can fix (bad files, flags, paths).

`run_cli` (every command's `main`) turns it into a single line on stderr and exit code 2; anything else is
a bug and keeps its traceback. `one_line_errors` does the same for a command's argparse parser: a bad flag is one
line too, not the whole usage first.
"""


class BadInputError(ValueError):
    """A problem with the user's input: the message names the file/argument and the fix."""


def run_cli(program: str, function, argv=None):
    """Run a command's body; a `BadInputError` (or a full disk) becomes `<program>: error: <message>` and
    exit code 2."""
    import errno
    import sys

    try:
        return function(argv)
    except BadInputError as error:
        print(f"{program}: error: {error}", file=sys.stderr)
        sys.exit(2)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        print(f"{program}: error: no space left on the device while writing {error.filename or 'a file'}; "
              "free space, then rerun with --resume_from_checkpoint true (complete checkpoints are kept)",
              file=sys.stderr)
        sys.exit(2)


def one_line_errors(parser):
    """`parser` (an `argparse.ArgumentParser`, `HfArgumentParser` included) reports a usage error as the one line
    every command ends with: `<prog>: error: <message>` on stderr and exit code 2, without argparse's usage dump
    first (a hundred lines for run_summarization.py). `--help` still prints the full help. Returns `parser`."""

    def error(message):
        parser.exit(2, f"{parser.prog}: error: {' '.join(str(message).split())}\n")

    parser.error = error
    return parser
