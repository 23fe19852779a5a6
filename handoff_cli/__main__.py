"""`python -m handoff_cli`."""

from handoff_cli.cli import main

main()
