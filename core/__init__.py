"""The bottom of the house: what every layer uses and nothing in the project is imported from here.

`errors`: the one exception for problems the user can fix, and the command-line wrapper that turns it into one
line (and `one_line_errors`, the same for argparse's own errors). `config_files`: where configs/<method>.yaml are and how one is read. `run_folder`: the names of the files
in a run folder and the questions asked about one.
"""

from .errors import BadInputError, one_line_errors, run_cli

__all__ = ["BadInputError", "one_line_errors", "run_cli"]
