"""Capacity roadmaps: a scenario with ``horizon`` planned over several periods in one integer program
(what to order when, what to retire, what to rent), with the fleet already owned."""
