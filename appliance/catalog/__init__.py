"""The service catalogue: its model and validation, the holder that loads and swaps it, signed updates
from central, citizen search with its lexicon of everyday phrases and the index shipped with the
catalogue, the YAML sources it is built from and the `kiosk catalog` command."""
