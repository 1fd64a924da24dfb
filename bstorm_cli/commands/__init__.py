"""One module per bstorm command; each is thin and delegates to ``experiment`` or the engine."""

#: every command, in the order `bstorm --help` lists them
ALL_COMMANDS = []
