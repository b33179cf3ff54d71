#!/usr/bin/env python
"""Django's command-line utility for administrative tasks, with the defaults of ``make run`` (``b2s.local``)."""

import sys

from b2s.command_line import manage_main

if __name__ == "__main__":
    manage_main(sys.argv)
