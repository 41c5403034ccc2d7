"""Central: the fleet monitor and intake that consumes everything the booths publish (design.md §4).

It shares only the message contract (`appliance.contract`) with the device side.
"""
