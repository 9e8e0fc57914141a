"""Background work: the broker, the actors' runtime, and the scheduler that feeds them."""
