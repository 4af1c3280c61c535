"""The one exception type for problems the user can fix (bad files, flags, paths).

`run_cli` (every command's `main`) turns it into a single line on stderr and exit code 2; anything else is
a bug and keeps its traceback.
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
