#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    from estafette.lib.datadir import restrict_umask

    restrict_umask()  # before settings create the data dir: what the server writes is its own (0600/0700)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "estafette.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
