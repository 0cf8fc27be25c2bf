"""Local mode: the whole system as processes on one machine, and the demo that runs it.

The same process helpers start nodes for the tests, so a test exercises what the demo runs.
"""
