"""Developer tools run from a checkout (`./dev`); not part of the installed product."""
