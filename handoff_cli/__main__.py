"""`python -m handoff_cli`."""

from handoff_cli.entry import main

main()
