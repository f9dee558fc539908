"""Old name of lwbench.cli.options (kept while branches that import it are merged); import cli.options."""

from lwbench.cli.options import *  # noqa: F401,F403
from lwbench.cli.options import console  # noqa: F401
