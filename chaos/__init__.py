"""``orders-chaos``: a fault campaign under load, and the checker that reads every shard."""
