"""Central's remote commands: the command centre (one result per request, repeats answered from disk),
one handler per command name, and the worker that runs them off paho's network thread."""
