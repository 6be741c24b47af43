"""One module per `codet5p-train` subcommand; each defines `add_parser(subparsers)` and `run(args)`."""
