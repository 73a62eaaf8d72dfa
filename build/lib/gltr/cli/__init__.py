"""Stage entry points: `gltr <command>` (Typer). Each command parses options and calls one function."""
